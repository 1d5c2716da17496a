/* checkpoint.c — model and trainer checkpoints as safetensors files.
 *
 * Saving and loading work from one list, the plan: the tensors a model or
 * trainer checkpoint holds (name, dtype, shape, where the values live), so
 * the two cannot disagree on names.  Saving hands the list to gan_st_save,
 * which writes atomically.
 *
 * Loading matches the file's header against the plan — every expected
 * tensor present with its dtype and shape, no tensor left over — before
 * any data is read; then all data is read into one staging buffer (its
 * size is the model's, never more than the file holds) and checked (finite
 * values, non-negative variances and counters); only then is it copied
 * into place.  A failure at any point leaves the destination untouched. */
#include "arch.h"
#include "checkpoint.h"
#include "nn.h"
#include "safetensors.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FORMAT_VERSION 1

/* -------------------------------------------------------------------- plan */
enum ck_check {
    CK_FINITE,  /* F32 values must be finite                     */
    CK_NONNEG,  /* finite and >= 0 (variances, Adam's exp_avg_sq) */
    CK_COUNT    /* I64 >= 0 (num_batches_tracked)                 */
};

/* One tensor of a checkpoint. */
typedef struct ck_item {
    char name[64];
    gan_st_dtype dtype;
    gan_shape shape;             /* ndim 0: a scalar */
    void *dst;                   /* where the values live (saved from, loaded to) */
    enum ck_check check;         /* loading: what the values must be */
    bool optional;               /* loading: absent is zero (num_batches_tracked) */
    const gan_st_entry *entry;   /* loading: the file's entry, NULL if absent */
    size_t staged;               /* loading: byte offset into the staging buffer */
} ck_item;

typedef struct ck_plan {
    ck_item *items;
    size_t n, cap;
    const char *what;            /* "model" or "trainer", for messages */
} ck_plan;

static gan_status plan_reserve(ck_plan *p, size_t more)
{
    if (p->n + more <= p->cap) return GAN_OK;
    size_t cap = p->n + more + 16;
    ck_item *items = gan_alloc_zero(cap * sizeof *items);
    if (items == NULL) return GAN_E_NOMEM;
    if (p->n) memcpy(items, p->items, p->n * sizeof *items);
    gan_dealloc(p->items);
    p->items = items;
    p->cap = cap;
    return GAN_OK;
}

static void plan_add(ck_plan *p, const char *prefix, const char *name, gan_st_dtype dtype,
                     const gan_shape *shape, void *dst, enum ck_check check, bool optional)
{
    ck_item *it = &p->items[p->n++];
    snprintf(it->name, sizeof it->name, "%s%s", prefix, name);
    it->dtype = dtype;
    if (shape) it->shape = *shape;
    it->dst = dst;
    it->check = check;
    it->optional = optional;
}

static bool is_batchnorm(const gan_layer *l)
{
    return strcmp(l->ops->kind, "batchnorm") == 0;
}

/* A model's tensors under `prefix`, PyTorch state_dict names: its
 * parameters and buffers, then each batchnorm's num_batches_tracked. */
static gan_status plan_add_model(ck_plan *p, const gan_model *m, const char *prefix)
{
    GAN_TRY(plan_reserve(p, (size_t)m->nentries + (size_t)m->nlayers));
    for (int i = 0; i < m->nentries; i++) {
        const gan_model_entry *e = &m->entries[i];
        gan_layer_slot *s = &m->layers[e->layer]->slot[e->slot];
        bool var = strcmp(s->name, "running_var") == 0;
        plan_add(p, prefix, e->name, GAN_ST_F32, &s->shape, s->value.data,
                 var ? CK_NONNEG : CK_FINITE, false);
    }
    for (int i = 0; i < m->nlayers; i++) {
        if (!is_batchnorm(m->layers[i])) continue;
        char name[48];
        snprintf(name, sizeof name, "%d.num_batches_tracked", i);
        plan_add(p, prefix, name, GAN_ST_I64, NULL, &m->layers[i]->num_batches_tracked, CK_COUNT,
                 true);
    }
    return GAN_OK;
}

/* An optimizer's state under `prefix`: Adam's "exp_avg." and "exp_avg_sq.",
 * or SGD's "momentum_buffer." (only with momentum), each followed by the
 * name of a trainable tensor of its model. */
static gan_status plan_add_optim(ck_plan *p, const gan_optimizer *opt, const char *prefix)
{
    const gan_model *m = opt->model;
    GAN_TRY(plan_reserve(p, 2 * (size_t)m->nentries));
    float *bufs[2] = {NULL, NULL};
    const char *names[2];
    if (opt->cfg.kind == GAN_OPTIM_ADAM) {
        bufs[0] = opt->state;
        bufs[1] = opt->state + opt->n;
        names[0] = "exp_avg.";
        names[1] = "exp_avg_sq.";
    } else if (opt->nstate > 0) {
        bufs[0] = opt->state;
        names[0] = "momentum_buffer.";
    }
    for (int b = 0; b < 2 && bufs[b] != NULL; b++) {
        char pre[48];
        snprintf(pre, sizeof pre, "%s%s", prefix, names[b]);
        for (int i = 0; i < m->nentries; i++) {
            const gan_model_entry *e = &m->entries[i];
            const gan_layer_slot *s = &m->layers[e->layer]->slot[e->slot];
            if (s->is_buffer) continue;
            plan_add(p, pre, e->name, GAN_ST_F32, &s->shape, bufs[b] + (s->value.data - m->params),
                     b == 1 ? CK_NONNEG : CK_FINITE, false);
        }
    }
    return GAN_OK;
}

/* A trainer's tensors: "G." and "D." models, then "optG." and "optD." state. */
static gan_status plan_add_trainer(ck_plan *p, const gan_trainer *t)
{
    GAN_TRY(plan_add_model(p, t->g, "G."));
    GAN_TRY(plan_add_model(p, t->d, "D."));
    GAN_TRY(plan_add_optim(p, t->opt_g, "optG."));
    return plan_add_optim(p, t->opt_d, "optD.");
}

/* ------------------------------------------------------------------ saving */
/* Write the plan's tensors and the metadata pairs to path (gan_st_save). */
static gan_status plan_save(const ck_plan *p, const char *path, const char *const *meta,
                            size_t nmeta)
{
    gan_st_out *t = gan_alloc_zero((p->n ? p->n : 1) * sizeof *t);
    if (t == NULL) return GAN_E_NOMEM;
    for (size_t i = 0; i < p->n; i++) {
        const ck_item *it = &p->items[i];
        t[i].name = it->name;
        t[i].dtype = it->dtype;
        t[i].ndim = it->shape.ndim;
        for (int d = 0; d < it->shape.ndim; d++) t[i].shape[d] = it->shape.d[d];
        t[i].data = it->dst;
    }
    gan_status st = gan_st_save(path, t, p->n, meta, nmeta);
    gan_dealloc(t);
    return st;
}

gan_status gan_model_save(const gan_model *model, const char *path)
{
    GAN_CHECK_NULL(model, "gan_model_save");
    GAN_CHECK_NULL(path, "gan_model_save");
    char *arch = NULL;
    GAN_TRY(gan_arch_text(model, &arch));
    ck_plan p = {.what = "model"};
    gan_status st = plan_add_model(&p, model, "");
    if (st == GAN_OK) {
        char fmt[16];
        snprintf(fmt, sizeof fmt, "%d", FORMAT_VERSION);
        const char *meta[] = {
            "libgan.format_version", fmt,
            "libgan.version", gan_version_string(),
            "libgan.kind", "model",
            "libgan.arch", arch,
        };
        st = plan_save(&p, path, meta, sizeof meta / sizeof meta[0] / 2);
    }
    gan_dealloc(p.items);
    gan_dealloc(arch);
    return st;
}

/* ----------------------------------------------------------------- loading */
static bool shape_matches(const ck_item *it, const gan_st_entry *e)
{
    if (it->dtype == GAN_ST_I64 && it->shape.ndim == 0) /* a counter: [] or [1] */
        return e->numel == 1 && e->ndim <= 1;
    if (e->ndim != it->shape.ndim) return false;
    for (int d = 0; d < e->ndim; d++)
        if (e->shape[d] != it->shape.d[d]) return false;
    return true;
}

static const char *entry_shape_str(const gan_st_entry *e, char *buf, size_t cap)
{
    size_t at = (size_t)snprintf(buf, cap, "(");
    for (int d = 0; d < e->ndim && at < cap; d++)
        at += (size_t)snprintf(buf + at, cap - at, d ? ", %lld" : "%lld", (long long)e->shape[d]);
    if (at < cap) snprintf(buf + at, cap - at, ")");
    return buf;
}

/* Match the header against the plan: names, dtypes, shapes, leftovers. */
static gan_status plan_match(ck_plan *p, const gan_st_file *f, size_t *staged_bytes)
{
    size_t claimed = 0, bytes = 0;
    for (size_t i = 0; i < p->n; i++) {
        ck_item *it = &p->items[i];
        const gan_st_entry *e = gan_st_find(f, it->name);
        if (e == NULL) {
            if (it->optional) continue;
            return gan_fail(GAN_E_FORMAT, "%s: tensor '%s' is missing", f->path, it->name);
        }
        if (e->dtype != it->dtype)
            return gan_fail(GAN_E_UNSUPPORTED, "%s: tensor '%s' has dtype %s; libgan reads it as %s",
                            f->path, it->name, gan_st_dtype_name(e->dtype),
                            gan_st_dtype_name(it->dtype));
        if (!shape_matches(it, e)) {
            char got[160], want[96];
            if (it->shape.ndim == 0) snprintf(want, sizeof want, "()");
            else gan_shape_str(&it->shape, want, sizeof want);
            return gan_fail(GAN_E_SHAPE, "%s: tensor '%s' is %s in the file, the model has %s",
                            f->path, it->name, entry_shape_str(e, got, sizeof got), want);
        }
        it->entry = e;
        it->staged = bytes;
        bytes += (size_t)(e->end - e->begin);
        claimed++;
    }
    if (claimed != f->count) {
        /* some entry is not in the plan: name the first one */
        for (size_t j = 0; j < f->count; j++) {
            bool found = false;
            for (size_t i = 0; i < p->n && !found; i++) found = p->items[i].entry == &f->entries[j];
            if (!found) {
                return gan_fail(GAN_E_FORMAT, "%s: tensor '%s' has no counterpart in the %s",
                                f->path, f->entries[j].name, p->what);
            }
        }
    }
    *staged_bytes = bytes;
    return GAN_OK;
}

/* Check the staged values of one item. */
static gan_status check_values(const gan_st_file *f, const ck_item *it, const unsigned char *v)
{
    int64_t n = it->entry->numel;
    if (it->dtype == GAN_ST_I64) {
        for (int64_t i = 0; i < n; i++) {
            int64_t x;
            memcpy(&x, v + 8 * i, 8);
            if (x < 0)
                return gan_fail(GAN_E_FORMAT, "%s: tensor '%s' = %lld, a count must be >= 0",
                                f->path, it->name, (long long)x);
        }
        return GAN_OK;
    }
    for (int64_t i = 0; i < n; i++) {
        float x;
        memcpy(&x, v + 4 * i, 4);
        if (!isfinite(x))
            return gan_fail(GAN_E_NUMERIC, "%s: tensor '%s' element %lld is %g", f->path, it->name,
                            (long long)i, (double)x);
        if (it->check == CK_NONNEG && x < 0.0f)
            return gan_fail(GAN_E_FORMAT, "%s: tensor '%s' element %lld is %g, must be >= 0",
                            f->path, it->name, (long long)i, (double)x);
    }
    return GAN_OK;
}

/* Match, stage, check and commit.  Nothing changes unless all succeed. */
static gan_status plan_load(ck_plan *p, const gan_st_file *f)
{
    size_t bytes;
    GAN_TRY(plan_match(p, f, &bytes));
    unsigned char *stage = gan_alloc(bytes ? bytes : 1);
    if (stage == NULL) return GAN_E_NOMEM;
    gan_status st = GAN_OK;
    for (size_t i = 0; i < p->n && st == GAN_OK; i++) {
        const ck_item *it = &p->items[i];
        if (it->entry == NULL) continue;
        st = gan_st_read(f, it->entry, stage + it->staged);
        if (st == GAN_OK) st = check_values(f, it, stage + it->staged);
    }
    if (st == GAN_OK) {
        for (size_t i = 0; i < p->n; i++) {
            const ck_item *it = &p->items[i];
            if (it->entry != NULL)
                memcpy(it->dst, stage + it->staged, (size_t)(it->entry->end - it->entry->begin));
            else
                memset(it->dst, 0, gan_st_dtype_size(it->dtype));
        }
    }
    gan_dealloc(stage);
    return st;
}

/* The file must be a libgan checkpoint of `kind` in a format we read. */
static gan_status check_libgan(const gan_st_file *f, const char *kind)
{
    const char *v = gan_st_get_meta(f, "libgan.format_version");
    if (v == NULL)
        return gan_fail(GAN_E_FORMAT,
                        "%s: not a libgan checkpoint (no libgan.format_version metadata)%s", f->path,
                        strcmp(kind, "model") == 0
                            ? "; build the model and use gan_model_load_weights" : "");
    char *end;
    long ver = strtol(v, &end, 10);
    if (*v < '0' || *v > '9' || *end != '\0' || ver < 1)
        return gan_fail(GAN_E_FORMAT, "%s: libgan.format_version '%.20s' is not a version number",
                        f->path, v);
    if (ver > FORMAT_VERSION)
        return gan_fail(GAN_E_UNSUPPORTED,
                        "%s: written in checkpoint format %ld by a newer libgan; this one reads format %d",
                        f->path, ver, FORMAT_VERSION);
    const char *k = gan_st_get_meta(f, "libgan.kind");
    if (k == NULL || strcmp(k, kind) != 0)
        return gan_fail(GAN_E_FORMAT, "%s: libgan.kind is '%.20s', expected '%s'", f->path,
                        k ? k : "(missing)", kind);
    return GAN_OK;
}

/* Build a model from the metadata key's architecture text; any failure is
 * the file's fault (GAN_E_FORMAT), except running out of memory. */
static gan_status build_from_meta(gan_model **out, const gan_st_file *f, const char *key,
                                  uint64_t budget)
{
    const char *arch = gan_st_get_meta(f, key);
    if (arch == NULL)
        return gan_fail(GAN_E_FORMAT, "%s: metadata '%s' (the architecture) is missing", f->path,
                        key);
    gan_status st = gan_arch_build(out, arch, strlen(arch), budget);
    if (st == GAN_OK || st == GAN_E_NOMEM) return st;
    char msg[400];
    snprintf(msg, sizeof msg, "%s", gan_last_error());
    return gan_fail(GAN_E_FORMAT, "%s: metadata '%s': %s", f->path, key, msg);
}

/* --- the public load calls: each checks its destination, then reads a
 * checkpoint from a file or from memory with load_source. */

/* Reads an open checkpoint into dst: model_read, weights_read, trainer_read. */
typedef gan_status (*ck_reader)(void *dst, const gan_st_file *f);

/* What a public load call reads: the file at `path`, or with from_memory
 * the `size` bytes at `data`.  `fn` names the call in messages. */
typedef struct ck_source {
    const char *fn;
    const char *path;
    const void *data;
    size_t size;
    bool from_memory;
} ck_source;

/* Check the source's pointer, open it, read it into dst, close it. */
static gan_status load_source(const ck_source *src, ck_reader read, void *dst)
{
    gan_st_file *f;
    if (src->from_memory) {
        const void *data = src->data; /* named as the caller's argument, for the message */
        GAN_CHECK_NULL(data, src->fn);
        GAN_TRY(gan_st_open_memory(&f, data, src->size));
    } else {
        const char *path = src->path;
        GAN_CHECK_NULL(path, src->fn);
        GAN_TRY(gan_st_open(&f, path));
    }
    gan_status st = read(dst, f);
    gan_st_close(f);
    return st;
}

/* A new model (dst: gan_model **) from a model checkpoint. */
static gan_status model_read(void *dst, const gan_st_file *f)
{
    gan_model **out = dst;
    GAN_TRY(check_libgan(f, "model"));
    gan_model *m = NULL;
    GAN_TRY(build_from_meta(&m, f, "libgan.arch", f->data_len));
    ck_plan p = {.what = "model"};
    gan_status st = plan_add_model(&p, m, "");
    if (st == GAN_OK) st = plan_load(&p, f);
    gan_dealloc(p.items);
    if (st != GAN_OK) {
        gan_model_free(m);
        return st;
    }
    *out = m;
    return GAN_OK;
}

gan_status gan_model_load(gan_model **out, const char *path)
{
    GAN_CHECK_NULL(out, "gan_model_load");
    *out = NULL;
    const ck_source src = {.fn = "gan_model_load", .path = path};
    return load_source(&src, model_read, out);
}

gan_status gan_model_load_memory(gan_model **out, const void *data, size_t size)
{
    GAN_CHECK_NULL(out, "gan_model_load_memory");
    *out = NULL;
    const ck_source src = {.fn = "gan_model_load_memory", .data = data, .size = size,
                           .from_memory = true};
    return load_source(&src, model_read, out);
}

/* The weights of an existing model (dst: gan_model *) from a model
 * checkpoint, libgan's or another program's. */
static gan_status weights_read(void *dst, const gan_st_file *f)
{
    gan_model *model = dst;
    const char *v = gan_st_get_meta(f, "libgan.format_version");
    const char *kind = gan_st_get_meta(f, "libgan.kind");
    if (kind != NULL && strcmp(kind, "trainer") == 0)
        return gan_fail(GAN_E_FORMAT, "%s: this is a trainer checkpoint (tensors 'G.*', 'D.*'); load it with gan_trainer_load",
                        f->path);
    if (v != NULL && strtol(v, NULL, 10) > FORMAT_VERSION)
        return gan_fail(GAN_E_UNSUPPORTED,
                        "%s: written in checkpoint format %.20s by a newer libgan; this one reads format %d",
                        f->path, v, FORMAT_VERSION);
    ck_plan p = {.what = "model"};
    gan_status st = plan_add_model(&p, model, "");
    if (st == GAN_OK) st = plan_load(&p, f);
    gan_dealloc(p.items);
    return st;
}

gan_status gan_model_load_weights(gan_model *model, const char *path)
{
    GAN_CHECK_NULL(model, "gan_model_load_weights");
    const ck_source src = {.fn = "gan_model_load_weights", .path = path};
    return load_source(&src, weights_read, model);
}

gan_status gan_model_load_weights_memory(gan_model *model, const void *data, size_t size)
{
    GAN_CHECK_NULL(model, "gan_model_load_weights_memory");
    const ck_source src = {.fn = "gan_model_load_weights_memory", .data = data, .size = size,
                           .from_memory = true};
    return load_source(&src, weights_read, model);
}

/* -------------------------------------------------------------- inspection */
struct gan_checkpoint {
    gan_st_file *f;
};

gan_status gan_checkpoint_open(gan_checkpoint **out, const char *path)
{
    GAN_CHECK_NULL(out, "gan_checkpoint_open");
    *out = NULL;
    GAN_CHECK_NULL(path, "gan_checkpoint_open");
    gan_checkpoint *ck = gan_alloc_zero(sizeof *ck);
    if (ck == NULL) return GAN_E_NOMEM;
    gan_status st = gan_st_open(&ck->f, path);
    if (st != GAN_OK) {
        gan_dealloc(ck);
        return st;
    }
    *out = ck;
    return GAN_OK;
}

void gan_checkpoint_close(gan_checkpoint *ck)
{
    if (ck == NULL) return;
    gan_st_close(ck->f);
    gan_dealloc(ck);
}

int gan_checkpoint_tensor_count(const gan_checkpoint *ck)
{
    return ck ? (int)(ck->f->count > INT32_MAX ? INT32_MAX : ck->f->count) : 0;
}

gan_status gan_checkpoint_tensor(const gan_checkpoint *ck, int index, const char **name,
                                 const char **dtype, int *ndim,
                                 int64_t shape[GAN_CHECKPOINT_MAX_DIMS])
{
    GAN_CHECK_NULL(ck, "gan_checkpoint_tensor");
    if (index < 0 || (size_t)index >= ck->f->count)
        return gan_fail(GAN_E_INVALID, "gan_checkpoint_tensor: index %d out of range 0..%zu", index,
                        ck->f->count - 1);
    const gan_st_entry *e = &ck->f->entries[index];
    if (name) *name = e->name;
    if (dtype) *dtype = gan_st_dtype_name(e->dtype);
    if (ndim) *ndim = e->ndim;
    for (int d = 0; shape && d < GAN_CHECKPOINT_MAX_DIMS; d++) shape[d] = d < e->ndim ? e->shape[d] : 0;
    return GAN_OK;
}

int gan_checkpoint_metadata_count(const gan_checkpoint *ck)
{
    return ck ? (int)(ck->f->nmeta > INT32_MAX ? INT32_MAX : ck->f->nmeta) : 0;
}

gan_status gan_checkpoint_metadata(const gan_checkpoint *ck, int index, const char **key,
                                   const char **value)
{
    GAN_CHECK_NULL(ck, "gan_checkpoint_metadata");
    if (index < 0 || (size_t)index >= ck->f->nmeta)
        return gan_fail(GAN_E_INVALID, "gan_checkpoint_metadata: index %d out of range 0..%zu",
                        index, ck->f->nmeta - 1);
    if (key) *key = ck->f->meta[index].key;
    if (value) *value = ck->f->meta[index].value;
    return GAN_OK;
}

const char *gan_checkpoint_get(const gan_checkpoint *ck, const char *key)
{
    if (ck == NULL || key == NULL) return NULL;
    return gan_st_get_meta(ck->f, key);
}

/* ----------------------------------------------------------------- trainer */
static const char *const loss_names[] = {"nonsat", "minimax", "lsgan", "hinge", "wgan"};
static const char *const noise_names[] = {"normal", "uniform"};
static const char *const optim_names[] = {"adam", "sgd"};

/* Texts of the trainer's metadata. */
typedef struct trainer_text {
    char trainer[256];
    char opt[2][256];
    char opt_step[2][24], step[24], epoch[24];
    char rng[5 * 17 + 1];
} trainer_text;

/* Shortest "%g" text that reads back as exactly x (6 to 9 digits). */
static const char *float_text(char buf[24], float x)
{
    for (int digits = 6; digits <= 9; digits++) {
        snprintf(buf, 24, "%.*g", digits, (double)x);
        if ((float)strtod(buf, NULL) == x) break;
    }
    return buf;
}

static void optim_text(char *buf, size_t cap, const gan_optim_config *c)
{
    char a[24], b[24], d[24], e[24], m[24], w[24];
    snprintf(buf, cap, "kind=%s lr=%s beta1=%s beta2=%s eps=%s momentum=%s weight_decay=%s",
             optim_names[c->kind == GAN_OPTIM_SGD], float_text(a, c->lr), float_text(b, c->beta1),
             float_text(d, c->beta2), float_text(e, c->eps), float_text(m, c->momentum),
             float_text(w, c->weight_decay));
}

static void write_trainer_text(trainer_text *tt, const gan_trainer *t)
{
    const gan_trainer_config *c = &t->cfg;
    gan_c_locale loc;
    gan_c_locale_enter(&loc);
    char clip[24], label[24];
    snprintf(tt->trainer, sizeof tt->trainer,
             "loss=%s noise=%s n_critic=%d clip=%s real_label=%s seed=%" PRIu64,
             loss_names[(unsigned)c->loss < 5 ? c->loss : 0],
             noise_names[c->noise == GAN_NOISE_UNIFORM], c->n_critic, float_text(clip, c->clip),
             float_text(label, c->real_label), c->seed);
    optim_text(tt->opt[0], sizeof tt->opt[0], &t->opt_g->cfg);
    optim_text(tt->opt[1], sizeof tt->opt[1], &t->opt_d->cfg);
    gan_c_locale_leave(&loc);
    snprintf(tt->opt_step[0], sizeof tt->opt_step[0], "%" PRId64, t->opt_g->step);
    snprintf(tt->opt_step[1], sizeof tt->opt_step[1], "%" PRId64, t->opt_d->step);
    snprintf(tt->step, sizeof tt->step, "%" PRId64, t->step);
    snprintf(tt->epoch, sizeof tt->epoch, "%" PRId64, t->epoch);
    uint64_t w[GAN_RNG_STATE_WORDS];
    gan_rng_get_state(&t->rng, w);
    size_t at = 0;
    for (int i = 0; i < GAN_RNG_STATE_WORDS; i++)
        at += (size_t)snprintf(tt->rng + at, sizeof tt->rng - at, i ? " %016" PRIx64 : "%016" PRIx64,
                               w[i]);
}

gan_status gan_trainer_save(const gan_trainer *t, const char *path)
{
    GAN_CHECK_NULL(t, "gan_trainer_save");
    GAN_CHECK_NULL(path, "gan_trainer_save");
    if (t->opt_g->n != t->g->nparams || t->opt_d->n != t->d->nparams)
        return gan_fail(GAN_E_STATE, "gan_trainer_save: layers were added to a model after the trainer was created");
    char *arch_g = NULL, *arch_d = NULL;
    trainer_text *tt = gan_alloc(sizeof *tt);
    ck_plan p = {.what = "trainer"};
    gan_status st = tt ? GAN_OK : GAN_E_NOMEM;
    if (st == GAN_OK) st = gan_arch_text(t->g, &arch_g);
    if (st == GAN_OK) st = gan_arch_text(t->d, &arch_d);
    if (st == GAN_OK) st = plan_add_trainer(&p, t);
    if (st == GAN_OK) {
        write_trainer_text(tt, t);
        char fmt[16];
        snprintf(fmt, sizeof fmt, "%d", FORMAT_VERSION);
        const char *meta[] = {
            "libgan.format_version", fmt,
            "libgan.version", gan_version_string(),
            "libgan.kind", "trainer",
            "libgan.G.arch", arch_g,
            "libgan.D.arch", arch_d,
            "libgan.trainer", tt->trainer,
            "libgan.optG", tt->opt[0],
            "libgan.optD", tt->opt[1],
            "libgan.optG.step", tt->opt_step[0],
            "libgan.optD.step", tt->opt_step[1],
            "libgan.step", tt->step,
            "libgan.epoch", tt->epoch,
            "libgan.rng", tt->rng,
        };
        st = plan_save(&p, path, meta, sizeof meta / sizeof meta[0] / 2);
    }
    gan_dealloc(p.items);
    gan_dealloc(arch_g);
    gan_dealloc(arch_d);
    gan_dealloc(tt);
    return st;
}

/* --- reading the trainer's metadata */
typedef struct kv_reader {
    const gan_st_file *f;
    const char *key;        /* metadata key, for messages */
    const char *text;
} kv_reader;

/* Value of `name` in a "k=v k=v" text into buf; false if absent. */
static bool kv_get(const char *text, const char *name, char *buf, size_t cap)
{
    size_t n = strlen(name);
    for (const char *p = text; *p;) {
        while (*p == ' ') p++;
        const char *end = p;
        while (*end && *end != ' ') end++;
        if ((size_t)(end - p) > n && strncmp(p, name, n) == 0 && p[n] == '=') {
            size_t len = (size_t)(end - p) - n - 1;
            if (len >= cap) len = cap - 1;
            memcpy(buf, p + n + 1, len);
            buf[len] = '\0';
            return true;
        }
        p = end;
    }
    return false;
}

static gan_status kv_bad(const kv_reader *r, const char *name, const char *why)
{
    return gan_fail(GAN_E_FORMAT, "%s: metadata '%s': '%s' %s", r->f->path, r->key, name, why);
}

static gan_status kv_float(const kv_reader *r, const char *name, float *out)
{
    char v[64], *end;
    if (!kv_get(r->text, name, v, sizeof v)) return kv_bad(r, name, "is missing");
    double x = strtod(v, &end);
    if (v[0] == '\0' || *end != '\0' || !isfinite(x) || fabs(x) > 3.0e38)
        return kv_bad(r, name, "is not a finite number");
    *out = (float)x;
    return GAN_OK;
}

static gan_status kv_enum(const kv_reader *r, const char *name, const char *const *names, int n,
                          int *out)
{
    char v[64];
    if (!kv_get(r->text, name, v, sizeof v)) return kv_bad(r, name, "is missing");
    for (int i = 0; i < n; i++)
        if (strcmp(v, names[i]) == 0) {
            *out = i;
            return GAN_OK;
        }
    return kv_bad(r, name, "has an unknown value");
}

/* Decimal unsigned integer <= max. */
static bool parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    if (*s == '\0') return false;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return false;
        unsigned digit = (unsigned)(*s - '0');
        if (v > (max - digit) / 10) return false;
        v = v * 10 + digit;
    }
    *out = v;
    return true;
}

static gan_status kv_u64(const kv_reader *r, const char *name, uint64_t max, uint64_t *out)
{
    char v[64];
    if (!kv_get(r->text, name, v, sizeof v)) return kv_bad(r, name, "is missing");
    if (!parse_u64(v, max, out)) return kv_bad(r, name, "is not an integer in range");
    return GAN_OK;
}

static gan_status meta_text(const gan_st_file *f, const char *key, kv_reader *r)
{
    r->f = f;
    r->key = key;
    r->text = gan_st_get_meta(f, key);
    if (r->text == NULL) return gan_fail(GAN_E_FORMAT, "%s: metadata '%s' is missing", f->path, key);
    return GAN_OK;
}

static gan_status meta_count(const gan_st_file *f, const char *key, int64_t *out)
{
    const char *v = gan_st_get_meta(f, key);
    uint64_t x;
    if (v == NULL) return gan_fail(GAN_E_FORMAT, "%s: metadata '%s' is missing", f->path, key);
    if (!parse_u64(v, INT64_MAX, &x))
        return gan_fail(GAN_E_FORMAT, "%s: metadata '%s' = '%.30s' is not a count", f->path, key, v);
    *out = (int64_t)x;
    return GAN_OK;
}

static gan_status parse_optim(const gan_st_file *f, const char *key, gan_optim_config *c)
{
    kv_reader r;
    GAN_TRY(meta_text(f, key, &r));
    int kind;
    GAN_TRY(kv_enum(&r, "kind", optim_names, 2, &kind));
    c->kind = kind ? GAN_OPTIM_SGD : GAN_OPTIM_ADAM;
    GAN_TRY(kv_float(&r, "lr", &c->lr));
    GAN_TRY(kv_float(&r, "beta1", &c->beta1));
    GAN_TRY(kv_float(&r, "beta2", &c->beta2));
    GAN_TRY(kv_float(&r, "eps", &c->eps));
    GAN_TRY(kv_float(&r, "momentum", &c->momentum));
    GAN_TRY(kv_float(&r, "weight_decay", &c->weight_decay));
    if (gan_optim_config_check(c, key) != GAN_OK) {
        char msg[300];
        snprintf(msg, sizeof msg, "%s", gan_last_error());
        return gan_fail(GAN_E_FORMAT, "%s: metadata %s", f->path, msg);
    }
    return GAN_OK;
}

/* Everything the trainer's metadata says, checked. */
typedef struct trainer_meta {
    gan_trainer_config cfg;
    int64_t opt_step[2], step, epoch;
    uint64_t rng[GAN_RNG_STATE_WORDS];
} trainer_meta;

static gan_status parse_trainer_meta(const gan_st_file *f, trainer_meta *tm)
{
    kv_reader r;
    GAN_TRY(meta_text(f, "libgan.trainer", &r));
    gan_trainer_config *c = &tm->cfg;
    gan_trainer_config_default(c);
    int loss, noise;
    uint64_t n_critic;
    GAN_TRY(kv_enum(&r, "loss", loss_names, 5, &loss));
    GAN_TRY(kv_enum(&r, "noise", noise_names, 2, &noise));
    GAN_TRY(kv_u64(&r, "n_critic", 1000, &n_critic));
    GAN_TRY(kv_float(&r, "clip", &c->clip));
    GAN_TRY(kv_float(&r, "real_label", &c->real_label));
    GAN_TRY(kv_u64(&r, "seed", UINT64_MAX, &c->seed));
    c->loss = (gan_loss)loss;
    c->noise = (gan_noise)noise;
    c->n_critic = (int)n_critic;
    GAN_TRY(parse_optim(f, "libgan.optG", &c->opt_g));
    GAN_TRY(parse_optim(f, "libgan.optD", &c->opt_d));
    GAN_TRY(meta_count(f, "libgan.optG.step", &tm->opt_step[0]));
    GAN_TRY(meta_count(f, "libgan.optD.step", &tm->opt_step[1]));
    GAN_TRY(meta_count(f, "libgan.step", &tm->step));
    GAN_TRY(meta_count(f, "libgan.epoch", &tm->epoch));
    const char *rng = gan_st_get_meta(f, "libgan.rng");
    if (rng == NULL) return gan_fail(GAN_E_FORMAT, "%s: metadata 'libgan.rng' is missing", f->path);
    const char *p = rng;
    for (int i = 0; i < GAN_RNG_STATE_WORDS; i++) {
        uint64_t w = 0;
        for (int k = 0; k < 16; k++, p++) {
            int v = *p >= '0' && *p <= '9' ? *p - '0' : *p >= 'a' && *p <= 'f' ? *p - 'a' + 10 : -1;
            if (v < 0) goto bad_rng;
            w = (w << 4) | (uint64_t)v;
        }
        if (*p != (i + 1 < GAN_RNG_STATE_WORDS ? ' ' : '\0')) goto bad_rng;
        if (*p) p++;
        tm->rng[i] = w;
    }
    gan_rng probe;
    if (gan_rng_set_state(&probe, tm->rng) != GAN_OK) goto bad_rng;
    return GAN_OK;
bad_rng:
    return gan_fail(GAN_E_FORMAT, "%s: metadata 'libgan.rng' must be 5 words of 16 lowercase hex digits (a valid RNG state)",
                    f->path);
}

/* Model bytes in the file's terms (parameters, buffers, counters). */
static uint64_t model_bytes(const gan_model *m)
{
    uint64_t n = (uint64_t)(m->nparams + gan_model_buffer_floats(m)) * 4;
    for (int i = 0; i < m->nlayers; i++) n += is_batchnorm(m->layers[i]) ? 8 : 0;
    return n;
}

/* A new trainer (dst: gan_trainer **) from a trainer checkpoint. */
static gan_status trainer_read(void *dst, const gan_st_file *f)
{
    gan_trainer **out = dst;
    GAN_TRY(check_libgan(f, "trainer"));
    trainer_meta tm;
    GAN_TRY(parse_trainer_meta(f, &tm));
    gan_model *g = NULL, *d = NULL;
    gan_trainer *t = NULL;
    GAN_TRY(build_from_meta(&g, f, "libgan.G.arch", f->data_len));
    uint64_t used = model_bytes(g);
    gan_status st = build_from_meta(&d, f, "libgan.D.arch", used < f->data_len ? f->data_len - used : 0);
    if (st == GAN_OK) {
        gan_status cs = gan_trainer_create(&t, g, d, &tm.cfg);
        if (cs != GAN_OK) {
            char msg[400];
            snprintf(msg, sizeof msg, "%s", gan_last_error());
            st = cs == GAN_E_NOMEM ? cs : gan_fail(GAN_E_FORMAT, "%s: the saved models and settings do not make a trainer: %s",
                                                   f->path, msg);
        }
    }
    if (st != GAN_OK) {
        gan_model_free(g);
        gan_model_free(d);
        return st;
    }
    ck_plan p = {.what = "trainer"};
    st = plan_add_trainer(&p, t);
    if (st == GAN_OK) st = plan_load(&p, f);
    gan_dealloc(p.items);
    if (st != GAN_OK) {
        gan_trainer_free(t);
        return st;
    }
    gan_optimizer_set_step_count(t->opt_g, tm.opt_step[0]);
    gan_optimizer_set_step_count(t->opt_d, tm.opt_step[1]);
    gan_trainer_set_step_count(t, tm.step);
    t->epoch = tm.epoch;
    gan_rng_set_state(&t->rng, tm.rng);
    *out = t;
    return GAN_OK;
}

gan_status gan_trainer_load(gan_trainer **out, const char *path)
{
    GAN_CHECK_NULL(out, "gan_trainer_load");
    *out = NULL;
    const ck_source src = {.fn = "gan_trainer_load", .path = path};
    return load_source(&src, trainer_read, out);
}

gan_status gan_trainer_load_memory(gan_trainer **out, const void *data, size_t size)
{
    GAN_CHECK_NULL(out, "gan_trainer_load_memory");
    *out = NULL;
    const ck_source src = {.fn = "gan_trainer_load_memory", .data = data, .size = size,
                           .from_memory = true};
    return load_source(&src, trainer_read, out);
}
