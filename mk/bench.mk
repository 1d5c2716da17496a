# make bench: libgan vs PyTorch side by side (needs python3-torch; see bench/compare.py)
# make layer-times: per-layer forward/backward times (bench/layer_times.c, a developer's tool)
.PHONY: bench layer-times
bench: all
	/usr/bin/python3 bench/compare.py --gan $(abspath $(BINOUT))/gan $(BENCH_ARGS)

LAYER_TIMES := $(BINOUT)/layer_times
layer-times: $(LAYER_TIMES)
	$(LAYER_TIMES) $(LAYER_TIMES_ARGS)

$(LAYER_TIMES): bench/layer_times.c $(STATIC_LIB)
	@mkdir -p $(dir $@)
	$(CC) -Iinclude -Isrc $(CPPFLAGS) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(STATIC_LIB) $(DEP_LIBS)

# built (not run) by make check, so the tool keeps compiling as the internals change
CHECK_EXTRA += $(LAYER_TIMES)
