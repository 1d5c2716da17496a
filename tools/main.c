/* main.c — the gan command: train, sample, bench, info. */
#include "tool.h"

#include <stdio.h>
#include <string.h>

static const char usage[] =
    "usage: gan <command> [options]\n"
    "\n"
    "Train and use GANs with libgan on the CPU.\n"
    "\n"
    "commands:\n"
    "  train   train a GAN (mlp28, dcgan28, dcgan64, toy2d) on IDX files, an image folder\n"
    "          or the built-in 2-D toy data\n"
    "  sample  draw images from a trained generator or checkpoint\n"
    "  bench   time training steps on random data\n"
    "  info    show the architecture, tensors and metadata of a checkpoint\n"
    "\n"
    "'gan <command> --help' describes each command; 'gan --version' prints the version.\n";

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*run)(int, char **);
    } commands[] = {
        {"train", cmd_train}, {"sample", cmd_sample}, {"bench", cmd_bench}, {"info", cmd_info}};
    if (argc < 2) {
        fputs(usage, stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage, stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("gan %s (%s)\n", gan_version_string(), gan_runtime_info());
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(cmd, commands[i].name) == 0) {
            tool_cmd = commands[i].name;
            return commands[i].run(argc - 1, argv + 1);
        }
    fprintf(stderr, "gan: unknown command '%s' (commands: train, sample, bench, info; see 'gan --help')\n",
            cmd);
    return EXIT_USAGE;
}
