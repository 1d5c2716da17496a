# mk/tool.mk — the data reader's zlib dependency, the gan tool's image
# libraries, and `make demo`.

# libgan reads gzip-compressed IDX files through zlib.
DEPS += zlib

# Only the gan tool links these: libpng writes sample grids, stb_image and
# stb_image_resize (header-only, Debian's libstb-dev) read image folders.
TOOL_CFLAGS += $(shell $(PKG_CONFIG) --cflags libpng) -I/usr/include/stb
TOOL_LIBS += $(shell $(PKG_CONFIG) --libs libpng) -lm
