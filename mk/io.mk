# io.mk — checkpoints (safetensors, architecture text) and their fuzzers.
#
# jansson parses and writes the safetensors JSON header.
DEPS += jansson

# make fuzz        build the libFuzzer targets in tests/fuzz/ with clang
#                  (ASan + UBSan) and run each for FUZZ_SECONDS seconds,
#                  starting from tests/fuzz/corpus/<target>/ with the
#                  dictionary tests/fuzz/<target>.dict.
#                  New inputs go to $(O)/build/fuzz/corpus-<target>/, crash
#                  reproducers to $(O)/build/fuzz/crash-*.
# Variables: FUZZ_CC (clang), FUZZ_SECONDS (60), FUZZ_TARGETS, FUZZ_ARGS
# (extra libFuzzer options).
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= checkpoint arch idx
FUZZ_ARGS ?=
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer \
               -fsanitize=address,undefined -fno-sanitize-recover=undefined

.PHONY: fuzz fuzz-build
fuzz: fuzz-build
	@set -e; for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(abspath $(O))/build/fuzz/corpus-$$t; \
	  echo "fuzz_$$t: $(FUZZ_SECONDS) s"; \
	  OPENBLAS_NUM_THREADS=1 $(abspath $(O))/build/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) \
	    -max_len=16384 -rss_limit_mb=2048 -print_final_stats=1 \
	    -artifact_prefix=$(abspath $(O))/build/fuzz/crash-$$t- -dict=tests/fuzz/$$t.dict $(FUZZ_ARGS) \
	    $(abspath $(O))/build/fuzz/corpus-$$t tests/fuzz/corpus/$$t; \
	done

# The targets are built by a sub-make that knows the output directory when
# it reads this file (O is only defaulted after the fragments are read).
fuzz-build:
	@$(MAKE) --no-print-directory FUZZ_OUT=$(abspath $(O))/build/fuzz \
	    $(patsubst %,$(abspath $(O))/build/fuzz/fuzz_%,$(FUZZ_TARGETS))

ifdef FUZZ_OUT
FUZZ_LIB_OBJS := $(patsubst %.c,$(FUZZ_OUT)/obj/%.o,$(sort $(wildcard src/*.c src/*/*.c)))

$(FUZZ_OUT)/obj/%.o: %.c include/gan.h src/internal.h
	@mkdir -p $(dir $@)
	@echo "  FUZZCC $<"
	@$(FUZZ_CC) -Iinclude -Isrc -DGAN_BUILDING_LIBRARY $(DEP_CFLAGS) $(FUZZ_CFLAGS) \
	    -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

$(FUZZ_OUT)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_LIB_OBJS)
	@echo "  FUZZLD $@"
	@$(FUZZ_CC) -Iinclude -Isrc $(DEP_CFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer \
	    -o $@ $< $(FUZZ_LIB_OBJS) $(DEP_LIBS)

-include $(FUZZ_LIB_OBJS:.o=.d)
endif
