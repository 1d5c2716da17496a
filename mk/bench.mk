# make bench: libgan vs PyTorch side by side (needs python3-torch; see bench/compare.py)
.PHONY: bench
bench: all
	/usr/bin/python3 bench/compare.py --gan $(abspath $(BINOUT))/gan $(BENCH_ARGS)
