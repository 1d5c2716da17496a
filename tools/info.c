/* info.c — `gan info`: what a checkpoint holds. */
#include "tool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char help[] =
    "usage: gan info FILE\n"
    "\n"
    "Show what a libgan safetensors file holds: its kind (model, trainer or tensors),\n"
    "the architecture of each network with parameter counts, training state, every\n"
    "tensor (name, dtype, shape) and the metadata.  The file is fully validated (as\n"
    "loading it would); an invalid file gives a message and exit code 1.\n"
    "\n"
    "options:\n"
    "  -h, --help   show this help\n";

/* s with control characters shown as '?' (a hostile file's strings must
 * not drive the terminal). */
static void print_clean(const char *s, int len)
{
    for (int i = 0; i < len && s[i]; i++)
        putchar((unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i]);
}

/* Architecture text, indented. */
static void print_arch(const char *title, const char *text, gan_model *m)
{
    if (text == NULL) text = "";
    if (m != NULL)
        printf("%s (%lld parameters):\n", title, (long long)gan_model_param_count(m));
    else
        printf("%s:\n", title);
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        int len = nl ? (int)(nl - p) : (int)strlen(p);
        if (len > 0) {
            printf("  ");
            print_clean(p, len);
            printf("\n");
        }
        p += len + (nl != NULL);
    }
}

static bool is_arch_key(const char *key)
{
    return strcmp(key, "libgan.arch") == 0 || strcmp(key, "libgan.G.arch") == 0 ||
           strcmp(key, "libgan.D.arch") == 0;
}

int cmd_info(int argc, char **argv)
{
    cli_opt opts[] = {{0}};
    const char *pos[1];
    int npos, rc = cli_parse(argc, argv, opts, pos, 1, &npos, help);
    if (rc >= 0) return rc;
    if (npos != 1) {
        tool_error("expected one file, e.g. gan info out/generator.safetensors (see 'gan info --help')");
        return EXIT_USAGE;
    }
    const char *path = pos[0];
    gan_checkpoint *ck = NULL;
    gan_status st = gan_checkpoint_open(&ck, path);
    if (st != GAN_OK) {
        tool_gan_error(st, "invalid file '%s'", path);
        return 1;
    }
    /* Validate the data too, the way loading would. */
    const char *kind = gan_checkpoint_get(ck, "libgan.kind");
    gan_model *model = NULL;
    gan_trainer *trainer = NULL;
    if (kind != NULL && strcmp(kind, "model") == 0)
        st = gan_model_load(&model, path);
    else if (kind != NULL && strcmp(kind, "trainer") == 0)
        st = gan_trainer_load(&trainer, path);
    if (st != GAN_OK) {
        tool_gan_error(st, "invalid %s file '%s'", kind, path);
        gan_checkpoint_close(ck);
        return 1;
    }

    struct stat sb;
    long long bytes = stat(path, &sb) == 0 ? (long long)sb.st_size : 0;
    const char *version = gan_checkpoint_get(ck, "libgan.version");
    printf("file: %s (%lld bytes)\n", path, bytes);
    printf("kind: %s%s%s%s\n", kind ? kind : "plain safetensors (no libgan metadata)",
           version ? " (written by libgan " : "", version ? version : "", version ? ")" : "");
    if (model != NULL) {
        print_arch("architecture", gan_checkpoint_get(ck, "libgan.arch"), model);
    } else if (trainer != NULL) {
        print_arch("generator", gan_checkpoint_get(ck, "libgan.G.arch"),
                   gan_trainer_generator(trainer));
        print_arch("discriminator", gan_checkpoint_get(ck, "libgan.D.arch"),
                   gan_trainer_discriminator(trainer));
        printf("training: epoch %lld, step %lld\n", (long long)gan_trainer_epoch(trainer),
               (long long)gan_trainer_step_count(trainer));
    }

    int nt = gan_checkpoint_tensor_count(ck);
    printf("tensors (%d):\n", nt);
    for (int i = 0; i < nt; i++) {
        const char *name, *dtype;
        int ndim;
        int64_t shape[GAN_CHECKPOINT_MAX_DIMS];
        if (gan_checkpoint_tensor(ck, i, &name, &dtype, &ndim, shape) != GAN_OK) continue;
        char dims[160] = "";
        size_t used = 0;
        for (int d = 0; d < ndim && used < sizeof dims; d++)
            used += (size_t)snprintf(dims + used, sizeof dims - used, d ? ", %lld" : "%lld",
                                     (long long)shape[d]);
        printf("  ");
        print_clean(name, 1 << 20);
        printf("%*s %-4s (%s)\n", (int)(strlen(name) < 40 ? 40 - strlen(name) : 0), "", dtype, dims);
    }
    int nm = gan_checkpoint_metadata_count(ck);
    printf("metadata (%d):\n", nm);
    for (int i = 0; i < nm; i++) {
        const char *key, *value;
        if (gan_checkpoint_metadata(ck, i, &key, &value) != GAN_OK) continue;
        if (is_arch_key(key) && (model != NULL || trainer != NULL))
            printf("  %s = (architecture above)\n", key);
        else {
            printf("  ");
            print_clean(key, 1 << 20);
            printf(" = ");
            print_clean(value, 1 << 20);
            printf("\n");
        }
    }
    gan_model_free(model);
    gan_trainer_free(trainer);
    gan_checkpoint_close(ck);
    return 0;
}
