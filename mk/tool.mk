# mk/tool.mk — the data reader's zlib dependency, the gan tool's image
# libraries, and `make demo`.

# libgan reads gzip-compressed IDX files through zlib.
DEPS += zlib

# Only the gan tool links these: libpng writes sample grids, stb_image and
# stb_image_resize (header-only, Debian's libstb-dev) read image folders.
TOOL_CFLAGS += $(shell $(PKG_CONFIG) --cflags libpng stb)
TOOL_LIBS += $(shell $(PKG_CONFIG) --libs libpng stb) -lm

# ------------------------------------------------------------------ demo
# Train dcgan28 on Fashion-MNIST for one epoch (Debian's dataset-fashion-
# mnist); without the data set, say where it comes from and train toy2d.
DEMO_DATA ?= /usr/share/datasets/fashion-mnist
DEMO_OUT ?= $(O)/out/demo
DEMO_FLAGS ?=

.PHONY: demo
demo: all
	@if [ -f $(DEMO_DATA)/train-images-idx3-ubyte.gz ] || [ -f $(DEMO_DATA)/train-images-idx3-ubyte ]; then \
	    echo "== gan train: dcgan28 on Fashion-MNIST ($(DEMO_DATA)), one epoch -> $(DEMO_OUT)"; \
	    $(BINOUT)/gan train --model dcgan28 --data $(DEMO_DATA) --epochs 1 --out $(DEMO_OUT) $(DEMO_FLAGS) && \
	    echo "== the sample grid is $(DEMO_OUT)/samples_epoch_001.png" && \
	    echo "   more samples: $(BINOUT)/gan sample $(DEMO_OUT)/generator.safetensors -n 64 -o samples.png"; \
	else \
	    echo "== Fashion-MNIST is not in $(DEMO_DATA): 'apt-get install dataset-fashion-mnist' provides it."; \
	    echo "== training toy2d (a ring of 8 Gaussians, no data needed) instead -> $(DEMO_OUT)"; \
	    $(BINOUT)/gan train --model toy2d --epochs 20 --log-every 500 --out $(DEMO_OUT) $(DEMO_FLAGS) && \
	    echo "== the scatter plot of samples is $(DEMO_OUT)/samples_epoch_020.png"; \
	fi
