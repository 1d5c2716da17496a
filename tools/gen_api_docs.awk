#!/usr/bin/awk -f
# gen_api_docs.awk — render include/gan.h as docs/api.md.
#
#     awk -f tools/gen_api_docs.awk include/gan.h > docs/api.md    (make api-docs)
#
# The header is the single source: its opening comment becomes the
# overview, each "/* ----- name */" marker a section, and each doc comment
# with the declarations directly below it (functions, types, enums,
# constants) one entry: the declarations as C, then the comment as text.
# A comment followed by a blank line is prose of its section.
# tests/test_docs.c runs this script and fails when docs/api.md differs
# from its output.  Plain POSIX awk (Debian's mawk is enough).

# Print a line, never two blank lines in a row.
function out(s) {
    if (s == "" && last_blank) return
    print s
    last_blank = (s == "")
}

function trim(s) { sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s); return s }

# Text of one comment line: without "/*", " * " and "*/".
function comment_text(s) {
    sub(/[ \t]*\*\/[ \t]*$/, "", s)
    if (s ~ /^\/\*/) { sub(/^\/\* ?/, "", s); return s }
    sub(/^ \* ?/, "", s)
    sub(/^ \*$/, "", s)
    return s
}

# Markdown for a line of prose: identifiers with '_', pointer dereferences
# (*out) and products (C*H*W) become code; *word* stays emphasis; the rest
# goes through escape_plain.
# Escape what Markdown would misread in plain text: '<' opening a tag, a
# '*' that could open or close emphasis (not one between spaces, as in
# "a * b"), and '~' (strikethrough).
function escape_plain(s,    r, i, c, prev, next_c) {
    r = ""
    for (i = 1; i <= length(s); i++) {
        c = substr(s, i, 1)
        prev = i > 1 ? substr(s, i - 1, 1) : " "
        next_c = i < length(s) ? substr(s, i + 1, 1) : " "
        if (c == "<" && next_c ~ /[A-Za-z\/!?]/) c = "&lt;"
        else if (c == "*" && !(prev == " " && next_c == " ")) c = "\\*"
        else if (c == "~") c = "\\~"
        r = r c
    }
    return r
}
# The earliest (then longest) match in s of any of the token patterns, in
# RSTART/RLENGTH; 0 if none.  Each pattern is tried on its own because some
# awks (mawk 1.3.4) do not return the leftmost match of an alternation.
function next_token(s,    k, best, blen) {
    best = 0; blen = 0
    for (k = 1; k <= 4; k++) {
        if (k == 1) found = match(s, /\*[A-Za-z][A-Za-z-]*\*/)              # *emphasis*
        else if (k == 2) found = match(s, /[A-Za-z0-9_.]*_[A-Za-z0-9_.]*(\*|\(\))?/)  # names_with_
        else if (k == 3) found = match(s, /\*[A-Za-z_][A-Za-z0-9_]*/)        # *pointer
        else found = match(s, /[A-Za-z0-9]+(\*[A-Za-z0-9]+)+/)                 # C*H*W
        if (found && (best == 0 || RSTART < best || (RSTART == best && RLENGTH > blen))) {
            best = RSTART; blen = RLENGTH
        }
    }
    RSTART = best; RLENGTH = blen
    return best
}

function md(s,    r, tok) {
    r = ""
    while (next_token(s)) {
        tok = substr(s, RSTART, RLENGTH)
        r = r escape_plain(substr(s, 1, RSTART - 1))
        if (tok ~ /^\*[A-Za-z][A-Za-z-]*\*$/) r = r tok
        else {
            sub(/\.+$/, "", tok)     # a sentence's full stop is not code
            r = r "`" tok "`"
            RLENGTH = length(tok)
        }
        s = substr(s, RSTART + RLENGTH)
    }
    return r escape_plain(s)
}

# Render comment lines cbuf[1..cn] as Markdown; setext headings in the
# comment ("Title" over "-----") get the level hlevel ("##").  Lines
# indented by 2 or more become a fenced block (a C block when they look
# like code), except a list item's 2-space continuation lines.
function render_comment(hlevel,    i, t, ind, mode, j, k, hasc, strip) {
    mode = ""                       # "", "list", "pre"
    for (i = 1; i <= cn; i++) {
        t = cbuf[i]
        if (t ~ /^[ \t]*$/) {
            if (mode == "pre") {     # a blank line inside an indented block
                for (k = i + 1; k <= cn && cbuf[k] ~ /^[ \t]*$/; k++) ;
                if (k <= cn && cbuf[k] ~ /^  /) { out(""); continue }
                out("```")
            }
            mode = ""
            out("")
            continue
        }
        match(t, /^ */); ind = RLENGTH
        if (mode != "pre" && i < cn && cbuf[i + 1] ~ /^---+$/) {   # setext heading
            out("")
            out(hlevel " " t)
            out("")
            i++
            mode = ""
            continue
        }
        if (t ~ /^- /) {
            if (mode == "pre") out("```")
            if (mode == "") out("")
            mode = "list"
            out(md(t))
            continue
        }
        if (mode == "list" && ind == 2) { out(md(t)); continue }
        if (ind >= 2) {
            if (mode != "pre") {
                hasc = 0; strip = 99
                for (j = i; j <= cn && (cbuf[j] ~ /^  / || cbuf[j] ~ /^[ \t]*$/); j++) {
                    if (cbuf[j] ~ /^[ \t]*$/) continue
                    if (cbuf[j] ~ /\)[^(]*;[ \t]*(\/\/.*)?$/) hasc = 1
                    match(cbuf[j], /^ */)
                    if (RLENGTH < strip) strip = RLENGTH
                }
                out("")
                out(hasc ? "```c" : "```")
                mode = "pre"
            }
            out(substr(t, strip + 1))
            continue
        }
        if (mode == "pre") { out("```"); out(""); mode = "" }
        else if (mode == "list") { out(""); mode = "" }
        out(md(t))
    }
    if (mode == "pre") out("```")
}

# Names an entry declares, for headings, anchors and the index.
function decl_names(    i, t, n) {
    nn = 0
    for (i = 1; i <= dn; i++) {
        t = dbuf[i]
        if (t ~ /^GAN_API/ && match(t, /gan_[A-Za-z0-9_]+\(/)) names[++nn] = substr(t, RSTART, RLENGTH - 1)
        else if (t ~ /^#define [A-Z_0-9]+/) { split(t, w, /[ \t(]+/); names[++nn] = w[2] }
        else if (t ~ /^} *gan_[a-z_]+;/) { n = t; gsub(/[};\t ]/, "", n); names[++nn] = n }
        else if (t ~ /^typedef (struct|enum) gan_[a-z_]+ gan_[a-z_]+;/) { split(t, w, " "); n = w[4]; sub(/;.*/, "", n); names[++nn] = n }
    }
}
function value_names(    i, t) {     # enum constants, for anchors only
    nv = 0
    for (i = 1; i <= dn; i++) {
        t = dbuf[i]
        if (t ~ /^ +GAN_[A-Z0-9_]+ =/) { t = trim(t); sub(/ .*/, "", t); values[++nv] = t }
    }
}

function flush_entry(    i, heading, a) {
    if (dn == 0) {
        if (cn > 0) { render_comment("###"); out("") }
        cn = 0
        return
    }
    decl_names()
    value_names()
    a = ""; heading = ""
    for (i = 1; i <= nn; i++) {
        a = a "<a id=\"" names[i] "\"></a>"
        heading = heading (i > 1 ? ", " : "") "`" names[i] "`"
    }
    for (i = 1; i <= nv; i++) a = a "<a id=\"" values[i] "\"></a>"
    out(a)
    out("### " heading)
    out("")
    out("```c")
    for (i = 1; i <= dn; i++) {
        t = dbuf[i]
        if (t ~ /^GAN_API /) { sub(/^GAN_API /, "", t); strip = 8 }
        else if (t !~ /^ /) strip = 0
        if (t ~ /^ / && strip > 0 && substr(t, 1, strip) ~ /^ +$/) t = substr(t, strip + 1)
        out(t)
    }
    out("```")
    out("")
    if (cn > 0) { render_comment("####"); out("") }
    cn = 0; dn = 0
}

BEGIN { cn = 0; dn = 0; section = ""; nsections = 0; state = "top" }

{ line[NR] = $0 }

END {
    # version
    for (i = 1; i <= NR; i++) {
        if (line[i] ~ /^#define GAN_VERSION_MAJOR /) { split(line[i], w, " "); vmaj = w[3] }
        if (line[i] ~ /^#define GAN_VERSION_MINOR /) { split(line[i], w, " "); vmin = w[3] }
        if (line[i] ~ /^#define GAN_VERSION_PATCH /) { split(line[i], w, " "); vpat = w[3] }
    }
    # Two passes over the lines: the index at the top needs every name, so
    # the first pass only collects names, the second prints.
    for (pass = 1; pass <= 2; pass++) {
        if (pass == 2) {
            out("# libgan " vmaj "." vmin "." vpat " API reference")
            out("")
            out("<!-- Generated from include/gan.h by tools/gen_api_docs.awk: do not edit by hand;")
            out("     change the header's comments and run `make api-docs`. -->")
            out("")
            out("Everything public lives in one header, `include/gan.h`; this page is that header's")
            out("doc comments, rendered.  `make check` fails when a function exported by `libgan.so`")
            out("has no doc comment in the header or no entry here, and when this page is older than")
            out("the header.  For the ideas behind the calls see the [tutorial](tutorial.md) and the")
            out("[architecture notes](architecture.md).")
            out("")
            out("## Index")
            out("")
            for (s = 1; s <= nsections; s++) {
                sname = section_name[s]
                if (index_list[sname] == "") continue
                out("- **[" toupper(substr(sname, 1, 1)) substr(sname, 2) "](#" sname ")**: " index_list[sname])
            }
            out("")
        }
        i = 1
        # the opening comment: the overview
        while (i <= NR && line[i] !~ /^\/\*/) i++
        cn = 0
        for (; i <= NR; i++) {
            cbuf[++cn] = comment_text(line[i])
            if (line[i] ~ /\*\//) { i++; break }
        }
        if (pass == 2) {
            while (cn > 0 && cbuf[1] ~ /^[ \t]*$/) { for (k = 1; k < cn; k++) cbuf[k] = cbuf[k + 1]; cn-- }
            render_comment("##")
            out("")
        }
        cn = 0; dn = 0; section = ""
        if (pass == 1) nsections = 0
        for (; i <= NR; i++) {
            t = line[i]
            if (t ~ /^\/\* -+ [a-z]+ \*\/$/) {          # section marker
                if (pass == 2) flush_entry()
                cn = 0; dn = 0
                section = t; sub(/^\/\* -+ /, "", section); sub(/ \*\/$/, "", section)
                if (pass == 1) section_name[++nsections] = section
                else if (section != "export") { out("## " toupper(substr(section, 1, 1)) substr(section, 2)); out("") }
                continue
            }
            if (section == "export" || section == "") continue
            if (t ~ /^[ \t]*$/) {
                if (pass == 2) flush_entry()
                cn = 0; dn = 0
                continue
            }
            if (t ~ /^\/\*/) {                           # a doc comment
                if (dn > 0 && pass == 2) flush_entry()
                if (dn > 0) { cn = 0; dn = 0 }
                if (cn > 0 && pass == 2) flush_entry()   # prose directly above
                cn = 0
                for (; i <= NR; i++) {
                    cbuf[++cn] = comment_text(line[i])
                    if (line[i] ~ /\*\//) break
                }
                continue
            }
            if (t ~ /^GAN_API/) {
                for (; i <= NR; i++) { dbuf[++dn] = line[i]; if (line[i] ~ /;/) break }
            } else if (t ~ /^typedef (enum|struct) [a-z_]+ \{/) {
                for (; i <= NR; i++) { dbuf[++dn] = line[i]; if (line[i] ~ /^}/) break }
            } else if (t ~ /^typedef / || t ~ /^#define GAN_[A-Z_0-9]+/) {
                for (; i <= NR; i++) { dbuf[++dn] = line[i]; if (line[i] !~ /\\$/) break }
            } else {                                     # preprocessor, extern "C"
                if (pass == 2) flush_entry()
                cn = 0; dn = 0
                continue
            }
            if (pass == 1) {                             # collect names for the index
                decl_names()
                for (k = 1; k <= nn; k++)
                    index_list[section] = index_list[section] (index_list[section] == "" ? "" : ", ") \
                        "[`" names[k] "`](#" names[k] ")"
                dn = 0
            }
        }
        if (pass == 2) flush_entry()
    }
}
