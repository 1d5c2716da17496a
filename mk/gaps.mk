# mk/gaps.mk — tests/tool/convert_check: the gan tool's per-batch image
# conversion (tools/image.c) against the whole-data-set conversion it
# replaced, bit for bit.  make check builds it beside the test binary;
# tests/test_tool.c runs it on small synthetic IDX files.
#
CONVERT_CHECK := $(TESTOUT)/convert_check

$(CONVERT_CHECK): tests/tool/convert_check.c tools/image.c tools/cli.c tools/tool.h include/gan.h \
                  $(STATIC_LIB)
	@mkdir -p $(dir $@)
	$(CC) -Iinclude -Itools $(CPPFLAGS) $(ALL_CFLAGS) $(TOOL_CFLAGS) $(LDFLAGS) -o $@ \
	    tests/tool/convert_check.c tools/image.c tools/cli.c $(STATIC_LIB) $(TOOL_LIBS) $(DEP_LIBS)

# built with the test binary, so a suite run on its own (check-valgrind) finds it
$(TESTOUT)/check_gan: $(CONVERT_CHECK)
CHECK_EXTRA += $(CONVERT_CHECK)
