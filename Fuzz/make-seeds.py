#!/usr/bin/env python3
"""Writes the seed corpora in Fuzz/Seeds/<target>/ from real inputs.

- fuzz-acpi: the tables captured from QEMU (pc, q35) and Bochs firmware
  (Tests/DevicesTests/Fixtures/CapturedACPI.swift), as memory chunks.
- fuzz-linux: the setup header (first 0x290 bytes) of Debian's bzImage at
  .build/kernel-cache/vmlinuz (fetched as .ci/run does), image size and
  initrd size as in the Linux guest.
- fuzz-manifest: a payload laid out as PayloadBuilder lays it out
  (Sources/Loader/PayloadManifest+Building.swift: hypervisor, kernel,
  initrd, command line, each 4 KiB-aligned, CRC-32 each and of the header).
- fuzz-multiboot: the a.out-kludge and ELF images of LoaderTests'
  MultibootFixture.
- fuzz-e820: Bochs's and QEMU's E820 maps as stage 2 stores them in BootInfo.
- fuzz-dispatcher: exit sequences of the test guests (CPUID, MSR, I/O,
  CR, XSETBV, hypercalls 1-5).

Run from the repository root: python3 Fuzz/make-seeds.py
"""
import base64, os, re, struct, zlib

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
seeds = os.path.join(root, "Fuzz", "Seeds")


def write(target, name, data):
    os.makedirs(os.path.join(seeds, target), exist_ok=True)
    with open(os.path.join(seeds, target, name), "wb") as f:
        f.write(data)


# --- ACPI --------------------------------------------------------------
fixture = open(os.path.join(root, "Tests/DevicesTests/Fixtures/CapturedACPI.swift")).read()
for platform in ["qemuPC", "qemuQ35", "bochs"]:
    body = fixture.split(f"static let {platform}: [Region] = [", 1)[1].split("\n    ]", 1)[0]
    regions = re.findall(r'Region\(name: "(\w+)", address: (0x[0-9A-Fa-f]+), base64: """(.*?)"""', body, re.S)
    chunks = b""
    for name, address, text in regions:  # RSDP first, as the fixture lists it
        data = base64.b64decode("".join(text.split()))
        chunks += struct.pack("<QH", int(address, 16), len(data)) + data
    for mode in ((0, 2, 6) if platform == "bochs" else (2, 6)):  # 0: full discover (RSDP search, slow): one seed; 2: RSDP is chunk 1; 6: and 4 GiB aliasing
        write("fuzz-acpi", f"{platform}-mode{mode}", bytes([mode]) + struct.pack("<H", 0x9FC0) + chunks)

# --- Linux bzImage setup header ----------------------------------------
kernel = os.path.join(root, ".build/kernel-cache/vmlinuz")
if os.path.exists(kernel):
    image = open(kernel, "rb").read()
    header = image[:0x290]
    for mode in (4, 5):  # bit 2: image size from the seed (padded); bit 0: 32-bit entry
        write("fuzz-linux", f"debian-bzimage-mode{mode}",
              bytes([mode]) + struct.pack("<IQH", len(image), 0x1F0_0000, 40) + header)
else:
    print("no .build/kernel-cache/vmlinuz: fuzz-linux seeds left as they are")

# --- Payload manifest ---------------------------------------------------
def manifest(blobs, entry_point, load_address=0x20_0000):
    count = len(blobs)
    header_size = 64 + 32 * count
    entries, cursor = [], 0x1000
    for kind, flags, data, memory in blobs:
        entries.append((kind, flags, cursor, len(data), zlib.crc32(data)))
        cursor = (cursor + max(memory, len(data)) + 0xFFF) & ~0xFFF
    total = entries[-1][2] + entries[-1][3]
    out = bytearray(total)
    struct.pack_into("<QHHIQQQ", out, 0, 0x4C59_4150_5648_5850, 1, count, header_size, total, entry_point,
                     load_address)
    for index, (kind, flags, offset, size, crc) in enumerate(entries):
        struct.pack_into("<IIQQI", out, 64 + 32 * index, kind, flags, offset, size, crc)
    struct.pack_into("<I", out, 40, zlib.crc32(bytes(out[:header_size])))
    for (kind, flags, data, memory), (_, _, offset, size, _) in zip(blobs, entries):
        out[offset:offset + size] = data
    return bytes(out)

hypervisor = bytes((i * 7 + 3) & 0xFF for i in range(0x600))
linux = [(1, 0, hypervisor, 0x3000), (2, 0, bytes(range(256)) * 4, 0), (3, 0, b"070701" + bytes(58), 0),
         (4, 0, b"console=ttyS0 earlyprintk=serial\0", 0)]
for mode in (0, 1, 3, 4):  # bit 0/1: harness fixes CRCs; bit 2: skip the hypervisor's CRC
    write("fuzz-manifest", f"linux-payload-mode{mode}", bytes([mode]) + manifest(linux, 0x20_1000))
write("fuzz-manifest", "test-guest-payload", bytes([0]) + manifest(
    [(1, 0, hypervisor, 0), (5, 1, bytes(0x200), 0)], 0x20_1000))

# --- Multiboot ----------------------------------------------------------
def put(image, fmt, offset, value):
    struct.pack_into(fmt, image, offset, value)

def aout(flags=0x0001_0003, at=0x40):
    image = bytearray((i * 3 + 1) & 0xFF for i in range(0x1000))
    for offset, value in [(0, 0x1BAD_B002), (4, flags), (8, (-(0x1BAD_B002 + flags)) & 0xFFFF_FFFF),
                          (12, 0x10_0000 + at), (16, 0x10_0000), (20, 0x10_1000), (24, 0x10_3000),
                          (28, 0x10_0080)]:
        put(image, "<I", at + offset, value)
    return bytes(image)

def elf():
    image = bytearray(0x1800)
    image[0:7] = b"\x7fELF\x01\x01\x01"
    put(image, "<H", 16, 2); put(image, "<H", 18, 3); put(image, "<I", 0x18, 0xC010_0010)
    put(image, "<I", 0x1C, 0x34); put(image, "<H", 0x2A, 32); put(image, "<H", 0x2C, 2)
    put(image, "<I", 0x34, 4)
    load = 0x34 + 32
    for offset, value in [(0, 1), (4, 0x1000), (8, 0xC010_0000), (12, 0x180_0000), (16, 0x800), (20, 0x1000)]:
        put(image, "<I", load + offset, value)
    put(image, "<I", 0x200, 0x1BAD_B002); put(image, "<I", 0x204, 3)
    put(image, "<I", 0x208, (-(0x1BAD_B002 + 3)) & 0xFFFF_FFFF)
    for i in range(0x800):
        image[0x1000 + i] = (i + 5) & 0xFF
    return bytes(image)

modules = bytes([2]) + struct.pack("<HBHB", 0x1800, 7, 0x20, 3)
write("fuzz-multiboot", "aout-kludge", bytes([0]) + struct.pack("<H", 12) + modules + aout())
write("fuzz-multiboot", "elf32", bytes([0]) + struct.pack("<H", 5) + bytes([0]) + elf())

# --- E820 via BootInfo --------------------------------------------------
def boot_info(entries):
    out = bytearray(64)
    struct.pack_into("<IHBBQQIIQQQ", out, 0, 0x4942_5850, 2, 0x80, 0, 0x20_0000, 0x80_0000, 512, len(entries),
                     0x2_0000, 0x4_0000, 0x1_0000_0000)
    for base, length, kind in entries:
        out += struct.pack("<QQII", base, length, kind, 1)
    return bytes(out)

bochs = [(0, 0x9_F000, 1), (0x9_F000, 0x1000, 2), (0xE_8000, 0x1_8000, 2), (0x10_0000, 0x1FEF_0000, 1),
         (0x1FFF_0000, 0x1_0000, 3), (0xFFFC_0000, 0x4_0000, 2)]
qemu = [(0, 0x9_FC00, 1), (0x9_FC00, 0x400, 2), (0xF_0000, 0x1_0000, 2), (0x10_0000, 0x1FEE_0000, 1),
        (0x1FFE_0000, 0x2_0000, 2), (0xFEFF_C000, 0x4000, 2), (0xFFFC_0000, 0x4_0000, 2)]
tail = struct.pack("<QQ", 0x20_0000, 0x60_0000)  # the range to reserve
write("fuzz-e820", "bochs-bootinfo", bytes([1]) + boot_info(bochs) + tail)
write("fuzz-e820", "qemu-bootinfo", bytes([1]) + boot_info(qemu) + tail)
write("fuzz-e820", "qemu-raw", bytes([0, len(qemu)]) + boot_info(qemu)[64:] + tail)

# --- Dispatcher ----------------------------------------------------------
def regs(**values):
    order = ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi"]
    mask, data = 0, b""
    for index, name in enumerate(order):
        if name in values:
            mask |= 1 << index
            data += struct.pack("<Q", values[name])
    return struct.pack("<H", mask) + data

def vmx(reason, qualification=0, cr4=0x2000, **values):
    # kind 0x80 = through the VMX decoder; reason selector byte < 0xF0.
    return bytes([0x80]) + regs(**values) + struct.pack("<Q", cr4) + bytes([reason]) + struct.pack(
        "<QQIIQQ", qualification, 0, 0, 0, 0, 0x1000)

setup = bytes([0]) + struct.pack("<HBQ", 0xB004, 0, 0xFFFF_DFFF) + bytes(64)
name = b"cpuid leaf 1 hides VMX"
setup += struct.pack("<IH", 0x8000, len(name)) + name
exits = (vmx(10, rax=1, rcx=0) + vmx(10, rax=0x4000_0000) + vmx(10, rax=0xD, rcx=0)
         + vmx(31, rcx=0x3A) + vmx(31, rcx=0x480) + vmx(32, rcx=0x3A, rax=1, rdx=0)
         + vmx(30, qualification=(0xE9 << 16) | 0x40, rax=0x41) + vmx(30, qualification=(0xE9 << 16) | 0x48)
         + vmx(28, qualification=0x4 | (0 << 8), rax=0x20) + vmx(28, qualification=0x20) + vmx(55, rax=7, rcx=0, rdx=0)
         + vmx(18, rax=1, rbx=0x8000, rcx=len(name)) + vmx(18, rax=2, rbx=1, rcx=0x8000, rdx=len(name))
         + vmx(18, rax=3, rbx=10) + vmx(18, rax=5, rbx=0x8000, rcx=len(name)) + vmx(12)
         + vmx(30, qualification=(0xB004 << 16) | 0x1, rax=0x2000) + vmx(18, rax=4, rbx=0))
write("fuzz-dispatcher", "test-guest-exits", setup + exits)
write("fuzz-dispatcher", "ept-and-failures", setup + vmx(48, qualification=0x82, rax=0) + vmx(2)
      + bytes([0x80]) + regs() + struct.pack("<Q", 0) + bytes([0xF0]) + struct.pack("<I", 0x8000_0021)
      + struct.pack("<QQIIQQ", 0, 0, 0, 0, 0, 0))
