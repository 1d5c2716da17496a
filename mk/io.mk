# io.mk — checkpoints (safetensors, architecture text) and their fuzzers.
#
# jansson parses and writes the safetensors JSON header.
DEPS += jansson
