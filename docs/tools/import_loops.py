#!/usr/bin/env python3
"""Import loops between files of src/: file A uses file B (via `use crate::..`, `use super::..`,
or a `crate::x::y` path) and B uses A. Reports 2-cycles between files and cycles between folders."""
import os, re, sys, itertools
root = sys.argv[1] if len(sys.argv) > 1 else 'src'
mods = {}  # module path tuple -> file
for d, _, fs in os.walk(root):
    for f in fs:
        if not f.endswith('.rs'): continue
        p = os.path.join(d, f)
        rel = os.path.relpath(p, root)[:-3].split('/')
        if rel[-1] in ('mod', 'lib', 'main'): rel = rel[:-1]
        if rel and rel[0] == 'bin': continue
        mods[tuple(rel)] = p
def resolve(path):
    # longest prefix that is a module
    for n in range(len(path), 0, -1):
        if tuple(path[:n]) in mods: return tuple(path[:n])
    return None
edges = {}
for m, p in mods.items():
    text = open(p).read()
    text = re.split(r'#\[cfg\(test\)\]\s*mod tests', text)[0]
    text = re.sub(r'//[^\n]*', '', text)
    deps = set()
    for uses in re.findall(r'\buse\s+([^;]+);', text):
        # expand one level of braces
        head = re.match(r'(crate|super|self)((?:::\w+)*)::\{', uses)
        items = []
        if head:
            inner = uses[uses.index('{')+1:uses.rindex('}')]
            for part in re.split(r',(?![^{]*\})', inner):
                part = part.strip().split(' as ')[0].split('::{')[0]
                if part: items.append(head.group(1)+head.group(2)+'::'+part)
        else: items.append(uses.strip())
        for it in items:
            segs = it.split('::')
            base = list(m) if p.endswith('mod.rs') or p.endswith('lib.rs') else list(m)
            if segs[0] == 'crate': path = segs[1:]
            elif segs[0] == 'super':
                cur = list(m) if (p.endswith('mod.rs')) else list(m[:-1])
                while segs and segs[0] == 'super':
                    segs = segs[1:]
                    if p.endswith('mod.rs'): cur = cur[:-1]
                    else: pass
                    break
                path = (list(m[:-1]) if not p.endswith('mod.rs') else list(m[:-1])) + segs
            elif segs[0] == 'self': path = list(m) + segs[1:]
            else: continue
            t = resolve(path)
            if t and t != m: deps.add(t)
    for q in re.findall(r'\bcrate::((?:\w+::)+)', text):
        t = resolve(q.strip(':').split('::'))
        if t and t != m: deps.add(t)
    for q in re.findall(r'(?<![:\w])super::((?:\w+::)*\w+)', text):
        t = resolve(list(m[:-1]) + q.split('::'))
        if t and t != m: deps.add(t)
    edges[m] = deps
name = lambda t: '/'.join(t) or 'lib'
# file 2-cycles (excluding a mod.rs re-exporting its own children)
pairs = set()
for a, ds in edges.items():
    for b in ds:
        if a in edges.get(b, ()):
            if len(a) < len(b) and b[:len(a)] == a: continue
            if len(b) < len(a) and a[:len(b)] == b: continue
            pairs.add(tuple(sorted((name(a), name(b)))))
print(f"file loops (A uses B and B uses A, parent mod.rs excluded): {len(pairs)}")
for a, b in sorted(pairs): print(f"  {a} <-> {b}")
# folder-level cycles
fold = {}
for a, ds in edges.items():
    fa = a[0] if a else ''
    for b in ds:
        fb = b[0] if b else ''
        if fa != fb and fa and fb: fold.setdefault(fa, set()).add(fb)
fp = sorted({tuple(sorted((a, b))) for a, ds in fold.items() for b in ds if a in fold.get(b, ())})
print(f"folder loops (stage A imports B and B imports A): {len(fp)}")
for a, b in fp: print(f"  {a} <-> {b}")
