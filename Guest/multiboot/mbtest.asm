; pxHV Multiboot test kernel: checks what a Multiboot v1 boot loader hands
; over (Multiboot Specification 0.6.96, "Machine state" and "Boot
; information format") and reports every check with hypercall 2
; (Guest/README.md), then powers off with hypercall 4 (status 0 when every
; check passed, else 1).
;
; One source, two load paths (Guest/README.md, "Multiboot guests"):
;
;   ELF32:  nasm -f elf32 -o mbtest.o mbtest.asm
;           ld.lld -m elf_i386 -T mbtest.ld [--defsym=MBTEST_BASE=0x100000] -o mbtest.elf mbtest.o
;           (header flags 0x3: the loader reads the program headers)
;   a.out:  nasm -f bin -DAOUT [-DMBTEST_BASE=0x100000] -o mbtest.bin mbtest.asm
;           (header flags 0x10003: the address fields say where it loads)
;
; The command line and module strings carry what the kernel should find:
;   cmdline "... modules=N ..."           N = mods_count
;   module string "... size=S fnv=H ..."  S = mod_end - mod_start, H = the
;                                         FNV-1a (32-bit) hash of its bytes
; Numbers are decimal or 0x-prefixed hex. The kernel prints what it got on
; `pxhv-guest: multiboot: ...` lines (hypercall 1), so a test can compare
; the command line and the module strings with what it passed.

BITS 32

%ifndef MBTEST_BASE
%define MBTEST_BASE 0x100000
%endif

MB_HEADER_MAGIC equ 0x1BADB002
%ifdef AOUT
        ORG MBTEST_BASE
MB_HEADER_FLAGS equ 0x00010003          ; page-align modules, memory info, address fields
%else
MB_HEADER_FLAGS equ 0x00000003          ; page-align modules, memory info
%endif
MB_BOOT_MAGIC   equ 0x2BADB002          ; EAX at entry

; multiboot_info ("Boot information format")
MBI_FLAGS       equ 0
MBI_MEM_LOWER   equ 4
MBI_MEM_UPPER   equ 8
MBI_CMDLINE     equ 16
MBI_MODS_COUNT  equ 20
MBI_MODS_ADDR   equ 24
MBI_MMAP_LENGTH equ 44
MBI_MMAP_ADDR   equ 48
MBI_LOADER_NAME equ 64
MBI_SIZE        equ 88                  ; through vbe_interface_len
; flags bits 0 (mem), 2 (cmdline), 3 (mods), 6 (mmap), 9 (boot_loader_name)
MBI_EXPECTED_FLAGS equ (1 << 0) | (1 << 2) | (1 << 3) | (1 << 6) | (1 << 9)
MMAP_USABLE     equ 1
MMAP_MAX_ENTRIES equ 256
STRING_MAX      equ 4096                ; longest string the kernel reads

HYPERVISOR_PROBE equ 0x200000           ; the payload base: always the hypervisor's

HC_WRITE        equ 1                   ; EBX = GPA, ECX = length
HC_CHECK        equ 2                   ; EBX = pass, ECX = name GPA, EDX = length
HC_POWER_OFF    equ 4                   ; EBX = status

CR0_PE          equ 1 << 0
CR0_PG          equ 1 << 31
EFLAGS_IF       equ 1 << 9
EFLAGS_VM       equ 1 << 17

FNV_OFFSET      equ 0x811C9DC5
FNV_PRIME       equ 0x01000193

LINE_MAX        equ 400

%include "hypercall.inc"

%include "check.inc"

; line_reset_macro: empty the line buffer.
%macro line_reset_macro 0
        mov dword [line_len], 0
%endmacro

; LINE "text": append a literal to the line buffer. Clobbers ECX, ESI, EDI.
%macro LINE 1
[section .data]
%%text: db %1
%%len   equ $ - %%text
__SECT__
        mov esi, %%text
        mov ecx, %%len
        call line_append
%endmacro

; LINE_HEX / LINE_DEC operand: append a number. Clobbers EAX, ECX, EDX, ESI, EDI.
%macro LINE_HEX 1
        mov eax, %1
        call line_hex
%endmacro
%macro LINE_DEC 1
        mov eax, %1
        call line_dec
%endmacro

section .text align=16
kernel_start:

; The Multiboot header, 4-byte aligned in the first 8192 bytes
; ("OS image format"): first in .text, which both link paths put first.
align 4
mb_header:
        dd MB_HEADER_MAGIC
        dd MB_HEADER_FLAGS
        dd -(MB_HEADER_MAGIC + MB_HEADER_FLAGS)
%ifdef AOUT
        dd mb_header                    ; header_addr
        dd kernel_start                 ; load_addr: the file's first byte
        dd data_end                     ; load_end_addr: text and data
        dd bss_end                      ; bss_end_addr
        dd start                        ; entry_addr
%endif

%ifndef AOUT
global start
%endif
start:
        ; ESP, GDTR and IDTR are undefined: save the entry registers, then
        ; a stack, a GDT and an IDT of our own before anything else.
        mov [boot_eax], eax
        mov [boot_ebx], ebx
        mov esp, stack_top
        pushfd
        pop dword [boot_eflags]
        mov eax, cr0
        mov [boot_cr0], eax
        lgdt [gdt_descriptor]
        jmp 0x08:.flat
.flat:  mov ax, 0x10
        mov ds, ax
        mov es, ax
        mov fs, ax
        mov gs, ax
        mov ss, ax
        call install_idt
        HYPERCALL_SELECT

        call check_machine_state
        call check_info
        call check_memory_map
        call check_command_line
        call check_modules
        call check_loader_name

        line_reset_macro
        LINE "pxhv-guest: multiboot: done, "
        movzx eax, byte [any_failed]
        test eax, eax
        jnz .failed
        LINE "every check passed"
        jmp .report
.failed:
        LINE "some checks FAILED"
.report:
        call line_flush
        movzx ebx, byte [any_failed]
        mov eax, HC_POWER_OFF
        HYPERCALL
.hang:  hlt
        jmp .hang

; ---------------------------------------------------------------------------
; "Machine state"
; ---------------------------------------------------------------------------
check_machine_state:
        cmp dword [boot_eax], MB_BOOT_MAGIC
        CHECK e, "multiboot: EAX holds the boot loader magic 0x2badb002"
        mov eax, [boot_cr0]
        and eax, CR0_PE | CR0_PG
        cmp eax, CR0_PE
        CHECK e, "multiboot: CR0.PE = 1 and CR0.PG = 0 (protected mode, paging off)"
        test dword [boot_eflags], EFLAGS_IF | EFLAGS_VM
        CHECK z, "multiboot: EFLAGS.IF = 0 and EFLAGS.VM = 0"
        ; A20: with the gate off, addresses 1 MiB apart are the same byte.
        ; Write two patterns to our own probe and read the address with
        ; bit 20 flipped (low RAM for a kernel at 1 MiB; only read).
        mov esi, a20_probe
        mov edi, esi
        xor edi, 0x100000
        xor edx, edx                    ; EDX = times the alias followed
        mov dword [esi], 0x5A5AA5A5
        cmp dword [edi], 0x5A5AA5A5
        jne .second
        inc edx
.second:
        mov dword [esi], 0xA5A55A5A
        cmp dword [edi], 0xA5A55A5A
        jne .judge
        inc edx
.judge: cmp edx, 2
        CHECK ne, "multiboot: A20 enabled (addresses 1 MiB apart do not alias)"
        ; The loader must zero the bss (ELF: p_memsz beyond p_filesz; a.out:
        ; up to bss_end_addr): nothing has written zero_probe yet.
        mov edi, zero_probe
        mov ecx, ZERO_PROBE_SIZE / 4
        xor eax, eax
        repe scasd
        CHECK e, "multiboot: the kernel's bss is zeroed"
        ret

; ---------------------------------------------------------------------------
; The info structure
; ---------------------------------------------------------------------------
check_info:
        mov esi, [boot_ebx]
        line_reset_macro
        LINE "pxhv-guest: multiboot: info at "
        LINE_HEX [boot_ebx]
        LINE " flags "
        mov esi, [boot_ebx]
        LINE_HEX [esi + MBI_FLAGS]
        LINE " mem_lower "
        mov esi, [boot_ebx]
        LINE_DEC [esi + MBI_MEM_LOWER]
        LINE " KiB mem_upper "
        mov esi, [boot_ebx]
        LINE_DEC [esi + MBI_MEM_UPPER]
        LINE " KiB"
        call line_flush

        mov esi, [boot_ebx]
        mov eax, [esi + MBI_FLAGS]
        and eax, MBI_EXPECTED_FLAGS
        cmp eax, MBI_EXPECTED_FLAGS
        CHECK e, "multiboot: flags say mem, cmdline, mods, mmap and boot_loader_name are valid"
        ; Where the loader put it: above the BIOS areas, clear of us.
        mov eax, [boot_ebx]
        mov ecx, MBI_SIZE
        call placed_well
        CHECK c, "multiboot: the info structure is above 1 MiB, clear of the kernel, in usable memory"
        ret

; ---------------------------------------------------------------------------
; The memory map
; ---------------------------------------------------------------------------
check_memory_map:
        ; Walk it: every entry's size >= 20, the walk ends exactly at
        ; mmap_addr + mmap_length, entries sorted and apart.
        mov esi, [boot_ebx]
        mov eax, [esi + MBI_MMAP_ADDR]
        mov [mmap_cursor], eax
        add eax, [esi + MBI_MMAP_LENGTH]
        mov [mmap_end], eax
        mov dword [mmap_count], 0
        mov byte [mmap_ok], 1
        mov dword [previous_end], 0
        mov dword [previous_end + 4], 0
.next:  mov esi, [mmap_cursor]
        cmp esi, [mmap_end]
        jae .walked
        cmp dword [mmap_count], MMAP_MAX_ENTRIES
        jae .bad
        cmp dword [esi], 20
        jb .bad
        line_reset_macro
        LINE "pxhv-guest: multiboot: mmap "
        mov esi, [mmap_cursor]
        add esi, 4
        call line_hex64_at              ; base_addr
        LINE " length "
        mov esi, [mmap_cursor]
        add esi, 12
        call line_hex64_at              ; length
        LINE " type "
        mov esi, [mmap_cursor]
        LINE_DEC [esi + 20]
        call line_flush
        ; base >= previous end (64-bit)
        mov esi, [mmap_cursor]
        mov eax, [esi + 4]
        mov edx, [esi + 8]
        cmp edx, [previous_end + 4]
        jb .unsorted
        ja .sorted
        cmp eax, [previous_end]
        jb .unsorted
.sorted:
        add eax, [esi + 12]
        adc edx, [esi + 16]
        mov [previous_end], eax
        mov [previous_end + 4], edx
        jmp .advance
.unsorted:
        mov byte [mmap_ok], 0
.advance:
        inc dword [mmap_count]
        mov eax, [esi]
        lea esi, [esi + eax + 4]
        mov [mmap_cursor], esi
        jmp .next
.bad:   mov byte [mmap_ok], 0
        jmp .done
.walked:
        cmp esi, [mmap_end]
        je .done
        mov byte [mmap_ok], 0
.done:  cmp dword [mmap_count], 0
        jne .counted
        mov byte [mmap_ok], 0
.counted:
        cmp byte [mmap_ok], 1
        CHECK e, "multiboot: mmap entries well formed (size >= 20, sorted, apart, ending at mmap_length)"

        ; The hypervisor's memory is the payload base and up: never usable.
        mov eax, HYPERVISOR_PROBE
        mov ecx, 1
        call find_usable
        CHECK nc, "multiboot: mmap reports no usable memory at 0x200000 (the hypervisor's)"
        mov eax, HYPERVISOR_PROBE
        call find_covering
        test esi, esi
        jz .no_reserved
        cmp dword [esi + 20], MMAP_USABLE
        CHECK ne, "multiboot: mmap has a reserved entry covering 0x200000"
        jmp .lower
.no_reserved:
        cmp esi, 1                      ; ZF = 0: fails
        CHECK e, "multiboot: mmap has a reserved entry covering 0x200000"

        ; mem_lower: KiB of usable RAM from 0 (at most 640); mem_upper: KiB
        ; from 1 MiB to the first hole ("Boot information format").
.lower: xor eax, eax
        call find_covering
        xor edx, edx                    ; expected mem_lower
        test esi, esi
        jz .lower_compare
        cmp dword [esi + 20], MMAP_USABLE
        jne .lower_compare
        cmp dword [esi + 8], 0          ; base high
        jne .lower_compare
        mov edx, [esi + 12]             ; length (below 4 GiB here)
        cmp dword [esi + 16], 0
        je .lower_cap
        mov edx, 0xA0000
.lower_cap:
        cmp edx, 0xA0000
        jbe .lower_kib
        mov edx, 0xA0000
.lower_kib:
        shr edx, 10
.lower_compare:
        mov esi, [boot_ebx]
        cmp edx, [esi + MBI_MEM_LOWER]
        CHECK e, "multiboot: mem_lower agrees with the mmap (usable KiB from 0)"

        mov eax, 0x100000
        call find_covering
        mov edx, 0xFFFFFFFF             ; no usable entry at 1 MiB: cannot match
        test esi, esi
        jz .upper_compare
        cmp dword [esi + 20], MMAP_USABLE
        jne .upper_compare
        mov edx, [esi + 4]
        add edx, [esi + 12]             ; end (the entry is below 4 GiB here)
        sub edx, 0x100000
        shr edx, 10
.upper_compare:
        mov esi, [boot_ebx]
        cmp edx, [esi + MBI_MEM_UPPER]
        CHECK e, "multiboot: mem_upper agrees with the mmap (usable KiB from 1 MiB)"

        mov eax, kernel_start
        mov ecx, bss_end - kernel_start
        call find_usable
        CHECK c, "multiboot: the kernel lies in usable memory"
        mov esi, [boot_ebx]
        mov eax, [esi + MBI_MMAP_ADDR]
        mov ecx, [esi + MBI_MMAP_LENGTH]
        call placed_well
        CHECK c, "multiboot: the mmap array is above 1 MiB, clear of the kernel, in usable memory"
        ret

; ---------------------------------------------------------------------------
; The command line
; ---------------------------------------------------------------------------
check_command_line:
        mov esi, [boot_ebx]
        mov esi, [esi + MBI_CMDLINE]
        mov [cmdline], esi
        line_reset_macro
        LINE 'pxhv-guest: multiboot: cmdline "'
        mov esi, [cmdline]
        mov ecx, 200
        call line_cstr
        LINE '"'
        call line_flush

        mov esi, [cmdline]
        call string_length
        mov [cmdline_length], ecx       ; MOV leaves CF alone
        CHECK nc, "multiboot: cmdline is NUL-terminated"
        mov eax, [cmdline]
        mov ecx, [cmdline_length]
        inc ecx                         ; with its NUL
        call placed_well
        CHECK c, "multiboot: cmdline is above 1 MiB, clear of the kernel, in usable memory"

        mov esi, [cmdline]
        mov edi, key_modules
        mov ecx, key_modules_len
        call find_key
        jc .no_count
        call parse_number
        jc .no_count
        mov esi, [boot_ebx]
        cmp eax, [esi + MBI_MODS_COUNT]
        CHECK e, "multiboot: mods_count is the modules=N the cmdline gives"
        ret
.no_count:
        cmp esi, esi                    ; ZF = 1 ...
        CHECK ne, "multiboot: mods_count is the modules=N the cmdline gives"
        ret

; ---------------------------------------------------------------------------
; The modules
; ---------------------------------------------------------------------------
check_modules:
        mov esi, [boot_ebx]
        mov eax, [esi + MBI_MODS_ADDR]
        mov ecx, [esi + MBI_MODS_COUNT]
        shl ecx, 4
        call placed_well
        CHECK c, "multiboot: the module list is above 1 MiB, clear of the kernel, in usable memory"
        mov dword [module_index], 0
.next:  mov esi, [boot_ebx]
        mov eax, [module_index]
        cmp eax, [esi + MBI_MODS_COUNT]
        jae .done
        cmp eax, 64
        jae .done
        shl eax, 4
        add eax, [esi + MBI_MODS_ADDR]
        mov [module_entry], eax
        call check_module
        inc dword [module_index]
        jmp .next
.done:  ret

; One module: [module_entry] = its {mod_start, mod_end, string, reserved}.
check_module:
        mov esi, [module_entry]
        mov eax, [esi + 4]
        sub eax, [esi]
        mov [module_size], eax
        ; FNV-1a of its bytes (only when the range is sane).
        mov edx, FNV_OFFSET
        mov ecx, [esi + 4]
        cmp ecx, [esi]
        jb .hashed
        mov ecx, eax
        mov esi, [esi]
.hash:  test ecx, ecx
        jz .hashed
        movzx eax, byte [esi]
        xor edx, eax
        imul edx, edx, FNV_PRIME
        inc esi
        dec ecx
        jmp .hash
.hashed:
        mov [module_hash], edx

        line_reset_macro
        LINE "pxhv-guest: multiboot: module "
        LINE_DEC [module_index]
        LINE " at "
        mov esi, [module_entry]
        LINE_HEX [esi]
        LINE " size "
        LINE_DEC [module_size]
        LINE " fnv "
        LINE_HEX [module_hash]
        LINE ' string "'
        mov esi, [module_entry]
        mov esi, [esi + 8]
        mov ecx, 200
        call line_cstr
        LINE '"'
        call line_flush

        ; Page-aligned (header flags bit 0), sane, placed well.
        mov byte [module_ok], 0
        mov esi, [module_entry]
        test dword [esi], 0xFFF
        jnz .placed
        mov eax, [esi + 4]
        cmp eax, [esi]
        jb .placed
        mov eax, [esi]
        mov ecx, [module_size]
        call placed_well
        jnc .placed
        ; Clear of the info structure too.
        mov esi, [module_entry]
        mov eax, [esi]
        mov ecx, [module_size]
        mov edx, [boot_ebx]
        mov ebx, MBI_SIZE
        call ranges_overlap
        jc .placed
        mov byte [module_ok], 1
.placed:
        call module_name
        LINE " is page-aligned, above 1 MiB, clear of the kernel and the info structure, in usable memory"
        cmp byte [module_ok], 1
        call check_line

        mov esi, [module_entry]
        mov esi, [esi + 8]
        call string_length
        CHECK nc, "multiboot: a module string is NUL-terminated"

        ; size= and fnv= in its string, as the test wrote them.
        mov byte [module_ok], 0
        mov esi, [module_entry]
        mov esi, [esi + 8]
        mov edi, key_size
        mov ecx, key_size_len
        call find_key
        jc .judge
        call parse_number
        jc .judge
        cmp eax, [module_size]
        jne .judge
        mov esi, [module_entry]
        mov esi, [esi + 8]
        mov edi, key_fnv
        mov ecx, key_fnv_len
        call find_key
        jc .judge
        call parse_number
        jc .judge
        cmp eax, [module_hash]
        jne .judge
        mov byte [module_ok], 1
.judge: call module_name
        LINE " size and FNV-1a hash are what its string says"
        cmp byte [module_ok], 1
        call check_line
        ret

; Starts the line buffer with "multiboot: module <index>".
module_name:
        line_reset_macro
        LINE "multiboot: module "
        LINE_DEC [module_index]
        ret

; ---------------------------------------------------------------------------
; The boot loader name
; ---------------------------------------------------------------------------
check_loader_name:
        mov esi, [boot_ebx]
        mov esi, [esi + MBI_LOADER_NAME]
        mov [loader_name], esi
        line_reset_macro
        LINE 'pxhv-guest: multiboot: boot_loader_name "'
        mov esi, [loader_name]
        mov ecx, 64
        call line_cstr
        LINE '"'
        call line_flush
        mov esi, [loader_name]
        mov edi, expected_loader_name
        mov ecx, expected_loader_name_len   ; with the NUL
        repe cmpsb
        CHECK e, 'multiboot: boot_loader_name is "pxHV"'
        ret

; ---------------------------------------------------------------------------
; Memory map queries
; ---------------------------------------------------------------------------

; find_covering: EAX = address. ESI = the mmap entry whose range holds it
; (any type), or 0. Clobbers ECX, EDX.
find_covering:
        push ebx
        mov ebx, [boot_ebx]
        mov esi, [ebx + MBI_MMAP_ADDR]
        mov ebx, [ebx + MBI_MMAP_LENGTH]
        add ebx, esi                    ; EBX = end of the array
        xor ecx, ecx                    ; entries seen
.next:  cmp esi, ebx
        jae .none
        cmp ecx, MMAP_MAX_ENTRIES
        jae .none
        cmp dword [esi + 8], 0          ; base above 4 GiB: not ours
        jne .skip
        cmp eax, [esi + 4]
        jb .skip
        mov edx, eax
        sub edx, [esi + 4]              ; offset into the entry
        cmp dword [esi + 16], 0         ; length >= 4 GiB: holds it
        jne .found
        cmp edx, [esi + 12]
        jb .found
.skip:  inc ecx
        mov edx, [esi]
        lea esi, [esi + edx + 4]
        jmp .next
.none:  xor esi, esi
.found: pop ebx
        ret

; find_usable: EAX = start, ECX = length (> 0). CF = 1 when one usable
; (type 1) entry holds all of [start, start + length). Clobbers EDX, ESI.
find_usable:
        push eax
        push ecx
        call find_covering
        pop ecx
        pop eax
        test esi, esi
        jz .no
        cmp dword [esi + 20], MMAP_USABLE
        jne .no
        cmp dword [esi + 16], 0         ; length >= 4 GiB
        jne .yes
        ; start - base + length <= entry length (64-bit: the entry's end may pass 4 GiB)
        mov edx, eax
        sub edx, [esi + 4]
        add edx, ecx
        jc .no
        cmp edx, [esi + 12]
        ja .no
.yes:   stc
        ret
.no:    clc
        ret

; placed_well: EAX = start, ECX = length. CF = 1 when [start, start +
; length) is at or above 1 MiB, clear of the kernel [kernel_start,
; bss_end), and inside one usable mmap entry. Clobbers EBX, EDX, ESI.
placed_well:
        cmp eax, 0x100000
        jb .no
        test ecx, ecx
        jnz .sized
        inc ecx                         ; an empty range: its first byte
.sized: push eax
        push ecx
        mov edx, kernel_start
        mov ebx, bss_end - kernel_start
        call ranges_overlap
        pop ecx
        pop eax
        jc .no
        jmp find_usable
.no:    clc
        ret

; ranges_overlap: [EAX, EAX + ECX) and [EDX, EDX + EBX). CF = 1 when they
; overlap. Clobbers nothing else.
ranges_overlap:
        push eax
        push edx
        ; a.start < b.end && b.start < a.end, ends computed without wrapping
        add edx, ebx
        jc .b_to_top
        cmp eax, edx
        jae .apart
.b_to_top:
        pop edx
        push edx
        add eax, ecx
        jc .overlap
        cmp edx, eax
        jae .apart
.overlap:
        pop edx
        pop eax
        stc
        ret
.apart: pop edx
        pop eax
        clc
        ret

; ---------------------------------------------------------------------------
; Strings
; ---------------------------------------------------------------------------

; string_length: ESI = string. ECX = bytes before its NUL, CF = 0; CF = 1
; when there is none in STRING_MAX bytes.
string_length:
        xor ecx, ecx
.next:  cmp ecx, STRING_MAX
        jae .none
        cmp byte [esi + ecx], 0
        je .found
        inc ecx
        jmp .next
.found: clc
        ret
.none:  stc
        ret

; find_key: ESI = NUL-terminated string, EDI = key, ECX = key length. ESI
; = the byte after the key where it starts a word (at the string's start
; or after a space), CF = 0; CF = 1 when absent. Clobbers EAX, EDX.
find_key:
        mov edx, esi                    ; the string's start
        mov eax, STRING_MAX
.next:  test eax, eax
        jz .absent
        cmp byte [esi], 0
        je .absent
        cmp esi, edx
        je .compare
        cmp byte [esi - 1], ' '
        jne .advance
.compare:
        push esi
        push edi
        push ecx
        repe cmpsb
        pop ecx
        pop edi
        jne .mismatch
        add esp, 4                      ; drop the saved ESI: ESI is past the key
        clc
        ret
.mismatch:
        pop esi
.advance:
        inc esi
        dec eax
        jmp .next
.absent:
        stc
        ret

; parse_number: ESI = text. EAX = its value, decimal or 0x-prefixed hex,
; CF = 0; CF = 1 when no digit follows. Clobbers ECX, EDX, ESI.
parse_number:
        xor eax, eax
        xor ecx, ecx                    ; digits read
        cmp word [esi], '0x'
        je .hex
.dec:   movzx edx, byte [esi]
        sub edx, '0'
        cmp edx, 9
        ja .end
        imul eax, eax, 10
        add eax, edx
        inc esi
        inc ecx
        jmp .dec
.hex:   add esi, 2
.hex_next:
        movzx edx, byte [esi]
        sub edx, '0'
        cmp edx, 9
        jbe .hex_digit
        movzx edx, byte [esi]
        or edx, 0x20                    ; lower case
        sub edx, 'a'
        cmp edx, 5
        ja .end
        add edx, 10
.hex_digit:
        shl eax, 4
        add eax, edx
        inc esi
        inc ecx
        jmp .hex_next
.end:   test ecx, ecx
        jz .none
        clc
        ret
.none:  stc
        ret

; ---------------------------------------------------------------------------
; Output and checks
; ---------------------------------------------------------------------------

; hc_check: EBX = 1 passed / 0 failed, ECX = name, EDX = length.
; Clobbers EAX.
hc_check:
        test ebx, ebx
        jnz .call
        mov byte [any_failed], 1
.call:  mov eax, HC_CHECK
        HYPERCALL
        ret

; check_line: a check named by the line buffer, passed if ZF = 1.
; Clobbers EAX, EBX, ECX, EDX.
check_line:
        mov ebx, 0
        sete bl
        mov ecx, line_buf
        mov edx, [line_len]
        call hc_check
        mov dword [line_len], 0
        ret

; line_append: ECX bytes at ESI (cut at the buffer's end). Clobbers ECX, ESI, EDI.
line_append:
        push eax
        mov eax, LINE_MAX
        sub eax, [line_len]
        cmp ecx, eax
        jbe .fits
        mov ecx, eax
.fits:  mov edi, line_buf
        add edi, [line_len]
        add [line_len], ecx
        rep movsb
        pop eax
        ret

; line_cstr: the NUL-terminated string at ESI, at most ECX bytes. Clobbers
; ECX, ESI, EDI.
line_cstr:
        push eax
.next:  test ecx, ecx
        jz .done
        mov al, [esi]
        test al, al
        jz .done
        mov edi, [line_len]
        cmp edi, LINE_MAX
        jae .done
        mov [line_buf + edi], al
        inc dword [line_len]
        inc esi
        dec ecx
        jmp .next
.done:  pop eax
        ret

; line_dec: EAX as unsigned decimal. Clobbers EAX, ECX, EDX, ESI, EDI.
line_dec:
        mov esi, digits_end
        mov ecx, 10
.next:  xor edx, edx
        div ecx
        add dl, '0'
        dec esi
        mov [esi], dl
        test eax, eax
        jnz .next
        mov ecx, digits_end
        sub ecx, esi
        jmp line_append

; line_hex: EAX as 0x-prefixed hex without leading zeros. Clobbers EAX,
; ECX, EDX, ESI, EDI.
line_hex:
        mov esi, digits_end
.next:  mov edx, eax
        and edx, 0x0F
        add dl, '0'
        cmp dl, '9'
        jbe .store
        add dl, 'a' - '9' - 1
.store: dec esi
        mov [esi], dl
        shr eax, 4
        jnz .next
        dec esi
        mov byte [esi], 'x'
        dec esi
        mov byte [esi], '0'
        mov ecx, digits_end
        sub ecx, esi
        jmp line_append

; line_hex64_at: the 64-bit value at ESI in hex. Clobbers EAX, ECX, EDX, ESI, EDI.
line_hex64_at:
        mov eax, [esi + 4]
        test eax, eax
        jz .low
        push esi
        call line_hex                   ; high half, then eight digits of the low
        pop esi
        mov eax, [esi]
        mov edi, digits_end
        mov ecx, 8
.digit: mov edx, eax
        and edx, 0x0F
        add dl, '0'
        cmp dl, '9'
        jbe .store
        add dl, 'a' - '9' - 1
.store: dec edi
        mov [edi], dl
        shr eax, 4
        dec ecx
        jnz .digit
        mov esi, edi
        mov ecx, 8
        jmp line_append
.low:   mov eax, [esi]
        jmp line_hex

; line_flush: the buffer and a newline with hypercall 1; empties it.
; Clobbers EAX, EBX, ECX.
line_flush:
        mov eax, [line_len]
        cmp eax, LINE_MAX
        jb .room
        dec eax
.room:  mov byte [line_buf + eax], 10
        inc eax
        mov ecx, eax
        mov ebx, line_buf
        mov eax, HC_WRITE
        HYPERCALL
        mov dword [line_len], 0
        ret

; ---------------------------------------------------------------------------
; Exceptions: none is expected. Each vector's stub pushes its number; the
; handler reports a failed check and powers off with status 1.
; ---------------------------------------------------------------------------
install_idt:
        mov esi, exception_stubs
        mov edi, idt
        mov ecx, 32
.next:  mov eax, esi
        mov [edi], ax                   ; offset 15:0
        mov word [edi + 2], 0x08        ; selector
        mov word [edi + 4], 0x8E00      ; present, DPL 0, 32-bit interrupt gate
        shr eax, 16
        mov [edi + 6], ax               ; offset 31:16
        add esi, EXCEPTION_STUB_SIZE
        add edi, 8
        dec ecx
        jnz .next
        lidt [idt_descriptor]
        ret

EXCEPTION_STUB_SIZE equ 8
align 8
exception_stubs:
%assign vector 0
%rep 32
        push byte vector                ; 2 bytes
        jmp exception                   ; at most 5
        align EXCEPTION_STUB_SIZE, db 0xCC
%assign vector vector + 1
%endrep

exception:
        pop eax
        mov [exception_vector], eax
        mov esp, stack_top
        mov dword [line_len], 0
        LINE "pxhv-guest: multiboot: unexpected exception "
        LINE_DEC [exception_vector]
        call line_flush
        xor eax, eax
        inc eax                         ; ZF = 0: the check fails
        CHECK z, "multiboot: no unexpected exception"
        mov ebx, 1
        mov eax, HC_POWER_OFF
        HYPERCALL
.hang:  hlt
        jmp .hang

; ---------------------------------------------------------------------------
; Data
; ---------------------------------------------------------------------------
section .data align=16
align 8
gdt:    dq 0
        dq 0x00CF9A000000FFFF           ; 0x08: flat 32-bit code
        dq 0x00CF92000000FFFF           ; 0x10: flat 32-bit data
gdt_end:
gdt_descriptor:
        dw gdt_end - gdt - 1
        dd gdt
idt_descriptor:
        dw 32 * 8 - 1
        dd idt

key_modules:    db "modules="
key_modules_len equ $ - key_modules
key_size:       db "size="
key_size_len    equ $ - key_size
key_fnv:        db "fnv="
key_fnv_len     equ $ - key_fnv
expected_loader_name: db "pxHV", 0
expected_loader_name_len equ $ - expected_loader_name

any_failed:     db 0
mmap_ok:        db 0
module_ok:      db 0
align 4
boot_eax:       dd 0
boot_ebx:       dd 0
boot_eflags:    dd 0
boot_cr0:       dd 0
line_len:       dd 0

HYPERCALL_SITES

section .data
align 4
data_end:                               ; load_end_addr (a.out kludge)

section .bss align=16
alignb 16
idt:            resb 32 * 8
previous_end:   resd 2
mmap_cursor:    resd 1
mmap_end:       resd 1
mmap_count:     resd 1
cmdline:        resd 1
cmdline_length: resd 1
loader_name:    resd 1
module_index:   resd 1
module_entry:   resd 1
module_size:    resd 1
module_hash:    resd 1
exception_vector: resd 1
a20_probe:      resd 1
digits:         resb 24
digits_end:
line_buf:       resb LINE_MAX
alignb 16
ZERO_PROBE_SIZE equ 4096
zero_probe:     resb ZERO_PROBE_SIZE
alignb 16
stack:          resb 16384
stack_top:
bss_end:                                ; bss_end_addr (a.out kludge)
