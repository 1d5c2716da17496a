# mk/docs.mk — the generated API reference and the tutorial's program.
#
#   make api-docs   regenerate docs/api.md from include/gan.h's doc comments
#                   (tools/gen_api_docs.awk; tests/test_docs.c fails when the
#                   committed page differs from what the header gives)
#
# `make check` builds examples/tutorial.c, the program printed at the end of
# docs/tutorial.md; tests/test_docs.c runs it for a few steps (on Debian's
# Fashion-MNIST test images when installed, else on the program's own
# synthetic images) and checks the page and the file are identical.

.PHONY: api-docs
api-docs:
	awk -f tools/gen_api_docs.awk include/gan.h > docs/api.md.tmp
	mv docs/api.md.tmp docs/api.md

# BINOUT is set after the fragments are read; the recursive variable is
# expanded when the check rule is, by which time it is.
CHECK_EXTRA += $(BINOUT)/examples/tutorial
