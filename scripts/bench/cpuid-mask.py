# gdb script (scripts/bench/native-isa.ts): hide AVX-512 and the VNNI extensions from onnxruntime-node's CPU checks,
# so that its kernels are the ones an AVX2-only x86-64 machine runs (MLAS picks its kernels from cpuid once).
#
# When libonnxruntime is loaded, a breakpoint goes on every cpuid instruction of it (offsets in the file named by
# DDPM_CPUID_SITES, from objdump) and one right after it; the first notes the leaf asked for, the second clears, in
# the answer to leaf 7, the feature bits of AVX-512 (F, DQ, IFMA, PF, ER, CD, BW, VL, VBMI, VBMI2, VNNI, BITALG,
# VPOPCNTDQ, VP2INTERSECT, FP16, BF16), AMX, AVX-VNNI (-INT8) and AVX-NE-CONVERT. Beyond gdb's own breakpoints no
# instruction is changed and nothing else is touched; after the library's start they are not hit again, so the
# timed forwards run at full speed.
# At exit it prints one line, `cpuid-mask: {json}`, with the libraries masked and the leaf-7 answers changed.
import gdb, json, os

LIB = 'libonnxruntime.so'
SITES = [int(x, 16) for x in open(os.environ['DDPM_CPUID_SITES']).read().split()]
LEAF7_0 = {
    'ebx': (1 << 16) | (1 << 17) | (1 << 21) | (1 << 26) | (1 << 27) | (1 << 28) | (1 << 30) | (1 << 31),
    'ecx': (1 << 1) | (1 << 6) | (1 << 11) | (1 << 12) | (1 << 14),
    'edx': (1 << 8) | (1 << 22) | (1 << 23) | (1 << 24) | (1 << 25),
}
LEAF7_1 = {'eax': (1 << 4) | (1 << 5), 'edx': (1 << 4) | (1 << 5)}
state = {'libraries': [], 'leaf7_0': 0, 'leaf7_1': 0, 'other': 0}
asked = {}


def reg(name):
    return int(gdb.parse_and_eval('$' + name)) & 0xffffffff


class Ask(gdb.Breakpoint):
    def stop(self):
        asked[self.site] = (reg('eax'), reg('ecx'))
        return False


class Answer(gdb.Breakpoint):
    def stop(self):
        leaf, sub = asked.pop(self.site, (None, None))
        masks = LEAF7_0 if (leaf, sub) == (7, 0) else LEAF7_1 if (leaf, sub) == (7, 1) else None
        if masks is None:
            state['other'] += 1
            return False
        state['leaf7_%d' % sub] += 1
        for name, bits in masks.items():
            gdb.execute('set $r%s = %d' % (name[1:], reg(name) & ~bits))
        return False


def on_load(event):
    path = event.new_objfile.filename
    if LIB not in os.path.basename(path) or path in state['libraries']:
        return
    lines = [l for l in gdb.execute('info sharedlibrary', to_string=True).splitlines() if path in l]
    text_start = int(lines[0].split()[0], 16)
    base = text_start - int(os.environ['DDPM_TEXT_VMA'], 16)
    for site in SITES:
        Ask('*%d' % (base + site), internal=True).site = site
        Answer('*%d' % (base + site + 2), internal=True).site = site
    state['libraries'].append(path)


def on_exit(event):
    gdb.write('cpuid-mask: %s\n' % json.dumps(state))


gdb.events.new_objfile.connect(on_load)
gdb.events.exited.connect(on_exit)
