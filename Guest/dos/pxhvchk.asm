; PXHVCHK.COM: pxHV's check program for a FreeDOS guest (`--guest freedos`).
;
; FreeDOS runs it from AUTOEXEC.BAT, whose `CTTY AUX` sends DOS's standard
; output to COM1 (AUX is COM1 through the BIOS's INT 14h), so every line
; below reaches the serial log. It prints what DOS and the BIOS report
; (DOS version, INT 12h, the largest free DOS block, INT 15h E820, E801,
; AH=88h), checks that those reports agree with each other, creates, writes,
; reads back, compares and deletes a file on A:, and ends.
;
; Under pxHV (CPUID.1:ECX bit 31 and leaf 0x40000000 "pxHVpxHVpxHV",
; Guest/README.md "CPUID as a guest sees it") every check is also reported
; with hypercall 2, so the hypervisor counts it on its verdict channel
; (`pxhv: guest result: PASS n/n`), and the program ends the guest with
; hypercall 4 (status 0 if every check passed, else 1). Without pxHV (a
; native boot of the floppy in QEMU or Bochs) VMCALL would raise #UD: the
; program makes no hypercall, prints its findings and
; `pxhv-guest: done (no hypervisor)`, and returns to DOS.
;
; `PXHVCHK /KEEP`: make no power-off hypercall; return to DOS with
; errorlevel 0 (all passed) or 1, so that AUTOEXEC.BAT can end the guest
; with FreeDOS's own `FDAPM PUREOFF` (`--freedos-poweroff fdapm`).
;
; Hypercalls in real mode: the ABI registers are RAX..RDX, read as
; EAX..EDX zero-extended (Guest/README.md), so 32-bit registers throughout.
; A .COM runs at CS:0100 with CS = DS = ES = SS = its PSP's segment: a name
; handed to the hypervisor is a GPA, CS * 16 + offset (`load_base`).
; Hypercalls must come from CPL 0: DOS runs in real mode here (no EMM386,
; which would put it in V86 mode at CPL 3, where every hypercall is refused).
;
; Assemble: nasm -f bin -I Guest/include/ -o PXHVCHK.COM Guest/dos/pxhvchk.asm

BITS 16
ORG 0x100

HC_CHECK        equ 2                   ; RBX = pass, RCX = name GPA, RDX = length
HC_POWER_OFF    equ 4                   ; RBX = status

SMAP            equ 0x534D4150          ; "SMAP", INT 15h E820 (ACPI spec, "INT 15H, E820H")
E820_ENTRY      equ 24                  ; bytes the BIOS returns per entry (ACPI 3.0)
E820_BASE       equ 0                   ; u64
E820_LENGTH     equ 8                   ; u64
E820_TYPE       equ 16                  ; u32
E820_ATTRIBUTES equ 20                  ; u32, ACPI 3.0 extended attributes
E820_END        equ 24                  ; u64 base + length, computed here
E820_SLOT       equ 32                  ; bytes per entry in e820_table
E820_MAX        equ 32                  ; entries kept
E820_USABLE     equ 1                   ; AddressRangeMemory
E820_ACPI       equ 3                   ; AddressRangeACPI: RAM the OS may use once it read the tables
ONE_MIB         equ 0x100000
SIXTEEN_MIB     equ 0x1000000
; Where pxHV's own memory starts in every guest's physical address space
; (Guest/README.md, "Test guest memory": 0x200000 up to the end of its pool,
; reserved in the guest's map).
PXHV_MEMORY     equ 0x200000

FILE_BYTES      equ 5000                ; crosses sector and cluster boundaries
LINE_MAX        equ 200

%include "hypercall.inc"
%include "check-name.inc"

; PUT "text": append a literal to the output line. Preserves all registers.
%macro PUT 1
[section .data]
%%text: db %1
%%len   equ $ - %%text
__SECT__
        push si
        push cx
        mov si, %%text
        mov cx, %%len
        call put_text
        pop cx
        pop si
%endmacro

; LINE "text": a whole line. Preserves all registers.
%macro LINE 1
        PUT %1
        call end_line
%endmacro

; CHECK cc, "name": a check that passes if condition code `cc` holds on the
; current flags (as in SETcc). Printed, counted, and under pxHV reported
; with hypercall 2. Preserves all registers and the flags.
%macro CHECK 2
        CHECK_NAME %2
        push bx
        push si
        push cx
        set%1 bl
        mov si, check_name
        mov cx, check_name_len
        call report_check
        pop cx
        pop si
        pop bx
%endmacro

section .text

start:
        cld
        ; DOS loads only the file: zero .bss.
        mov di, bss_start
        mov cx, bss_end - bss_start
        xor al, al
        rep stosb
        ; GPA of offset 0 of this program's segment.
        mov ax, cs
        movzx eax, ax
        shl eax, 4
        mov [load_base], eax
        ; A .COM owns all free memory; keep 64 KiB (code, data, stack) so
        ; that the largest free block DOS reports means something (RBIL
        ; INT 21h AH=4Ah, "resize memory block"; ES = the PSP).
        mov ah, 0x4A
        mov bx, 0x1000
        int 0x21

        call parse_arguments
        call fast_console
        HYPERCALL_SELECT
        LINE "pxhv-guest: freedos up"
        call detect_hypervisor
        call dos_version
        call memory_reports
        call file_test

        ; -- the end ---------------------------------------------------------
        PUT "pxhv-guest: checks: "
        mov ax, [checks_total]
        sub ax, [checks_failed]
        movzx eax, ax
        call put_decimal
        PUT " passed, "
        movzx eax, word [checks_failed]
        call put_decimal
        PUT " failed"
        call end_line

        xor ebx, ebx
        cmp word [checks_failed], 0
        setne bl                        ; EBX = status: 0 all passed, 1 otherwise
        cmp byte [under_pxhv], 0
        je .native
        cmp byte [keep_running], 0
        jne .keep
        LINE "pxhv-guest: done"
        mov eax, HC_POWER_OFF
        HYPERCALL
        ; Only if the hypervisor refused (it never returns from a power-off).
        PUT "pxhv-guest: power-off hypercall returned 0x"
        call put_hex32
        call end_line
        jmp .exit
.keep:  LINE "pxhv-guest: done (/KEEP: DOS powers off)"
        jmp .exit
.native:
        LINE "pxhv-guest: done (no hypervisor)"
.exit:  mov al, bl
        mov ah, 0x4C                    ; terminate with return code AL
        int 0x21

; ---------------------------------------------------------------------------
; /KEEP on the command line (PSP:80h = length, 81h = text; RBIL INT 21h
; AH=26h, "PSP format").
; ---------------------------------------------------------------------------
parse_arguments:
        mov si, 0x81
        movzx cx, byte [0x80]
.scan:  cmp cx, keep_switch_len
        jb .done
        push si
        push cx
        mov di, keep_switch
        mov cx, keep_switch_len
.cmp:   lodsb
        cmp al, 'a'
        jb .upper
        cmp al, 'z'
        ja .upper
        sub al, 'a' - 'A'
.upper: cmp al, [di]
        jne .differ
        inc di
        loop .cmp
        mov byte [keep_running], 1
.differ:
        pop cx
        pop si
        inc si
        dec cx
        jmp .scan
.done:  ret

; fast_console: COM1 (the console after CTTY AUX) to 115200 baud, 8N1.
; COM1 is otherwise left at the slow rate DOS gave it, and every character
; costs milliseconds of the machine's time: under Bochs, whose UART model
; keeps the line rate, the FreeDOS run took 65 s without this and 5.5 s
; with it. Divisor latch: LCR bit 7, divisor 1 (1.8432 MHz / 16 / 115200),
; then LCR 03h (8N1).
fast_console:
        mov dx, 0x3FB
        mov al, 0x83
        out dx, al
        mov dx, 0x3F8
        mov al, 1
        out dx, al
        inc dx
        xor al, al
        out dx, al
        mov dx, 0x3FB
        mov al, 0x03
        out dx, al
        ret


; ---------------------------------------------------------------------------
; pxHV or not: CPUID.1:ECX bit 31 (hypervisor present), then the signature
; of leaf 0x40000000 (EBX, ECX, EDX), printed whatever it is.
; ---------------------------------------------------------------------------
detect_hypervisor:
        mov eax, 1
        xor ecx, ecx
        cpuid
        bt ecx, 31
        jc .present
        LINE "pxhv-guest: hypervisor: none (cpuid.1:ecx bit 31 clear): no hypercalls"
        ret
.present:
        mov eax, 0x40000000
        xor ecx, ecx
        cpuid
        mov [signature], ebx
        mov [signature + 4], ecx
        mov [signature + 8], edx
        PUT "pxhv-guest: hypervisor: cpuid 0x40000000 '"
        mov si, signature
        mov cx, 12
        call put_printable
        PUT "'"
        cmp dword [signature], 'pxHV'
        jne .other
        cmp dword [signature + 4], 'pxHV'
        jne .other
        cmp dword [signature + 8], 'pxHV'
        jne .other
        mov byte [under_pxhv], 1
        PUT ": pxHV, checks reported by hypercall"
        jmp end_line
.other: PUT ": not pxHV, no hypercalls"
        jmp end_line

; ---------------------------------------------------------------------------
; DOS: INT 21h AH=30h (version; BH = OEM, 0xFD for the FreeDOS kernel) and
; AX=33FFh (FreeDOS: DX:AX = the kernel's version string).
; ---------------------------------------------------------------------------
dos_version:
        mov ax, 0x3000
        int 0x21
        mov [dos_major], al
        mov [dos_minor], ah
        mov [dos_oem], bh
        PUT "pxhv-guest: dos: version "
        movzx eax, byte [dos_major]
        call put_decimal
        PUT "."
        movzx eax, byte [dos_minor]
        cmp al, 10
        jae .two
        PUT "0"
.two:   call put_decimal
        PUT " (int 21h ah=30h), oem 0x"
        movzx eax, byte [dos_oem]
        call put_hex8
        call end_line

        mov ax, 0x33FF
        xor dx, dx
        int 0x21
        test dx, dx
        jz .no_string
        PUT "pxhv-guest: dos: kernel '"
        push ds
        mov si, ax
        mov ds, dx
        call put_asciiz                 ; DS:SI, at most 80 bytes
        pop ds
        PUT "' (int 21h ax=33ffh)"
        call end_line
.no_string:
        cmp byte [dos_major], 5
        CHECK ae, "dos: int 21h ah=30h reports dos 5.0 or later"
        cmp byte [dos_oem], 0xFD
        CHECK e, "dos: int 21h ah=30h oem id 0xfd (freedos kernel)"
        ret

; ---------------------------------------------------------------------------
; What the BIOS and DOS say about memory, and whether they agree.
; ---------------------------------------------------------------------------
memory_reports:
        ; INT 12h: AX = KB of conventional memory (RBIL INT 12h).
        int 0x12
        mov [int12_kb], ax
        PUT "pxhv-guest: int 12h: "
        movzx eax, ax
        call put_decimal
        PUT " KB conventional memory"
        call end_line
        mov ax, [int12_kb]
        sub ax, 64                      ; 64..640 <=> 0..576 unsigned
        cmp ax, 640 - 64
        CHECK be, "bios: int 12h conventional memory 64..640 KB"

        ; INT 21h AH=48h BX=FFFFh: fails, BX = the largest free block in
        ; paragraphs (RBIL INT 21h AH=48h).
        mov ah, 0x48
        mov bx, 0xFFFF
        int 0x21
        mov [largest_block], bx
        PUT "pxhv-guest: dos: largest free block "
        movzx eax, bx
        shl eax, 4
        call put_decimal
        PUT " bytes (int 21h ah=48h bx=ffffh)"
        call end_line
        movzx eax, word [largest_block]
        shl eax, 4
        movzx ecx, word [int12_kb]
        shl ecx, 10
        dec eax                         ; 1..ecx-1 <=> 0..ecx-2 unsigned
        dec ecx
        cmp eax, ecx
        CHECK b, "dos: largest free block nonzero and below int 12h memory"

        call read_e820
        call check_e820
        call e801
        call int15_88
        ret

; read_e820: the E820 map into e820_table (at most E820_MAX entries, each
; E820_SLOT bytes: what the BIOS returns, then the end check_e820 computes).
read_e820:
        xor ebx, ebx
        mov di, e820_table
.next:  mov dword [di + E820_ATTRIBUTES], 1 ; "valid" preset, for BIOSes that return 20 bytes
        mov eax, 0xE820
        mov edx, SMAP
        mov ecx, E820_ENTRY
        push di
        int 0x15
        pop di
        jc .end                         ; unsupported (first call) or past the end
        cmp eax, SMAP
        jne .end
        cmp ecx, 20
        jb .skip
        ; ACPI 3.0: an entry whose attribute bit 0 is clear is to be ignored.
        test byte [di + E820_ATTRIBUTES], 1
        jz .skip
        inc word [e820_count]
        add di, E820_SLOT
        cmp word [e820_count], E820_MAX
        jae .end
.skip:  test ebx, ebx
        jnz .next
.end:   ret

; check_e820: print the map; check it (entries sane, RAM ranges overlap
; nothing, RAM at 1 MiB, INT 12h inside the RAM range at 0). RAM: is_ram.
check_e820:
        mov cx, [e820_count]
        test cx, cx
        CHECK nz, "bios: int 15h e820 returns a map"
        jz .done
        ; Print each entry; compute its end (base + length), which must not
        ; carry past 2^64.
        mov byte [e820_ok], 1
        mov si, e820_table
        xor bx, bx
.entry: PUT "pxhv-guest: e820 "
        movzx eax, bx
        call put_decimal
        PUT ": base 0x"
        mov eax, [si + E820_BASE]
        mov edx, [si + E820_BASE + 4]
        call put_hex64
        PUT " length 0x"
        mov eax, [si + E820_LENGTH]
        mov edx, [si + E820_LENGTH + 4]
        call put_hex64
        PUT " type "
        mov eax, [si + E820_TYPE]
        call put_decimal
        call end_line
        mov eax, [si + E820_BASE]
        mov edx, [si + E820_BASE + 4]
        add eax, [si + E820_LENGTH]
        adc edx, [si + E820_LENGTH + 4]
        jnc .end_ok
        mov byte [e820_ok], 0
.end_ok:
        mov [si + E820_END], eax
        mov [si + E820_END + 4], edx
        add si, E820_SLOT
        inc bx
        cmp bx, [e820_count]
        jb .entry

        ; No RAM range overlapping any other entry.
        mov si, e820_table
        xor bx, bx                      ; i
.outer: call is_ram
        jne .next_i
        mov di, e820_table
        xor dx, dx                      ; j
.inner: cmp bx, dx
        je .next_j
        call e820_overlap               ; CF = entries i and j overlap
        jnc .next_j
        mov byte [e820_ok], 0
        PUT "pxhv-guest: e820: ram entry "
        movzx eax, bx
        call put_decimal
        PUT " overlaps entry "
        movzx eax, dx
        call put_decimal
        call end_line
.next_j:
        add di, E820_SLOT
        inc dx
        cmp dx, [e820_count]
        jb .inner
.next_i:
        add si, E820_SLOT
        inc bx
        cmp bx, [e820_count]
        jb .outer
        cmp byte [e820_ok], 1
        CHECK e, "bios: e820 entries end below 2^64 and ram ranges overlap no other entry"

        ; RAM at 1 MiB.
        mov eax, ONE_MIB
        call ram_run_from               ; EDX:EAX = bytes of RAM from 1 MiB on
        mov [run_1m], eax
        mov [run_1m + 4], edx
        PUT "pxhv-guest: e820: ram from 1 MiB on, contiguous: 0x"
        call put_hex64
        PUT " bytes"
        call end_line
        or eax, edx
        CHECK nz, "bios: e820 has ram at 1 MiB"

        ; INT 12h inside the RAM range that starts at 0.
        xor eax, eax
        call ram_run_from
        movzx ecx, word [int12_kb]
        shl ecx, 10
        call fits_in
        CHECK be, "bios: int 12h memory lies within e820's ram at 0"

        ; pxHV's own memory must not be offered to the guest. Meaningful
        ; only under pxHV: natively 0x200000 is ordinary RAM.
        cmp byte [under_pxhv], 0
        je .native
        mov eax, PXHV_MEMORY
        call ram_run_from
        or eax, edx
        CHECK z, "pxhv: e820 offers no ram at 0x200000 (the hypervisor's)"
        jmp .done
.native:
        LINE "pxhv-guest: skipped: pxhv: e820 offers no ram at 0x200000 (no hypervisor)"
.done:  ret

; is_ram: ZF = the entry at SI is RAM an OS may use: type 1 (usable) or 3
; (ACPI reclaimable; ACPI spec, "E820 Address Range Types"). Bochs's BIOS
; counts its ACPI tables' 64 KiB in E801's BX: both are RAM.
is_ram:
        cmp dword [si + E820_TYPE], E820_USABLE
        je .done
        cmp dword [si + E820_TYPE], E820_ACPI
.done:  ret

; e820_overlap: CF = the entries at SI and DI overlap: each starts below
; the other's end. Empty entries overlap nothing.
e820_overlap:
        push eax
        mov eax, [si + E820_LENGTH]
        or eax, [si + E820_LENGTH + 4]
        jz .no
        mov eax, [di + E820_LENGTH]
        or eax, [di + E820_LENGTH + 4]
        jz .no
        call starts_below_end
        jnc .no
        xchg si, di                     ; XCHG leaves the flags alone
        call starts_below_end
        xchg si, di
        pop eax
        ret
.no:    clc
        pop eax
        ret

; starts_below_end: CF = the entry at SI starts below the end of the entry
; at DI (64-bit, unsigned).
starts_below_end:
        push eax
        push ecx
        mov eax, [si + E820_BASE]
        mov ecx, [si + E820_BASE + 4]
        sub eax, [di + E820_END]
        sbb ecx, [di + E820_END + 4]
        pop ecx
        pop eax
        ret

; fits_in: flags for `CHECK be`: ECX (bytes) <= EDX:EAX (unsigned).
fits_in:
        test edx, edx
        jz .low
        cmp ecx, ecx                    ; ZF: "below or equal" holds
        ret
.low:   cmp ecx, eax
        ret

; ram_run_from: EAX = a 32-bit address; EDX:EAX = the bytes of RAM from
; there on, following RAM entries that touch or overlap (0 if the address
; is not in a RAM entry). Uses the ends computed by check_e820. Each step
; moves the address to a larger end, so it stops.
ram_run_from:
        push bx
        push si
        mov [run_start], eax
        mov dword [run_start + 4], 0
        mov [run_at], eax
        mov dword [run_at + 4], 0
.again: xor bx, bx
        mov si, e820_table
.entry: cmp bx, [e820_count]
        jae .finish
        call is_ram
        jne .next
        ; start <= at ?
        mov eax, [run_at]
        mov edx, [run_at + 4]
        sub eax, [si + E820_BASE]
        sbb edx, [si + E820_BASE + 4]
        jc .next
        ; at < end ?
        mov eax, [run_at]
        mov edx, [run_at + 4]
        sub eax, [si + E820_END]
        sbb edx, [si + E820_END + 4]
        jnc .next
        mov eax, [si + E820_END]
        mov edx, [si + E820_END + 4]
        mov [run_at], eax
        mov [run_at + 4], edx
        jmp .again
.next:  add si, E820_SLOT
        inc bx
        jmp .entry
.finish:
        mov eax, [run_at]
        mov edx, [run_at + 4]
        sub eax, [run_start]
        sbb edx, [run_start + 4]
        pop si
        pop bx
        ret

; ram_above_16m_kb: EAX = KB of RAM between 16 MiB and 4 GiB (each entry
; clipped to that window; E801's BX counts no further).
ram_above_16m_kb:
        push bx
        push ecx
        push edx
        push si
        xor ecx, ecx                    ; the sum, KB
        xor bx, bx
        mov si, e820_table
.entry: cmp bx, [e820_count]
        jae .done
        call is_ram
        jne .next
        ; an entry starting at 4 GiB or above counts nothing
        cmp dword [si + E820_BASE + 4], 0
        jne .next
        ; end = min(end, 4 GiB - 1 KiB, the last whole KB below 4 GiB)
        mov eax, [si + E820_END]
        cmp dword [si + E820_END + 4], 0
        je .end_low
        mov eax, 0xFFFFFC00
.end_low:
        ; start = max(start, 16 MiB)
        mov edx, [si + E820_BASE]
        cmp edx, SIXTEEN_MIB
        jae .start_ok
        mov edx, SIXTEEN_MIB
.start_ok:
        cmp eax, edx
        jbe .next
        sub eax, edx
        shr eax, 10
        add ecx, eax
.next:  add si, E820_SLOT
        inc bx
        jmp .entry
.done:  mov eax, ecx
        pop si
        pop edx
        pop ecx
        pop bx
        ret

; INT 15h AX=E801h (RBIL): AX/CX = KB between 1 and 16 MiB, BX/DX = 64 KiB
; blocks above 16 MiB (AX/BX "extended", CX/DX "configured"; some BIOSes
; fill only CX/DX). Both must lie within what E820 calls RAM.
e801:
        mov ax, 0xE801
        xor bx, bx
        xor cx, cx
        xor dx, dx
        clc
        int 0x15
        jnc .supported
        LINE "pxhv-guest: int 15h e801: not supported (CF set)"
        stc
        CHECK nc, "bios: int 15h e801 supported"
        ret
.supported:
        test ax, ax
        jnz .have
        test bx, bx
        jnz .have
        mov ax, cx
        mov bx, dx
.have:  mov [e801_ax], ax
        mov [e801_bx], bx
        PUT "pxhv-guest: int 15h e801: ax="
        movzx eax, ax
        call put_decimal
        PUT " bx="
        movzx eax, bx
        call put_decimal
        PUT " cx="
        movzx eax, cx
        call put_decimal
        PUT " dx="
        movzx eax, dx
        call put_decimal
        PUT " (KB at 1-16 MiB, 64 KiB blocks above 16 MiB)"
        call end_line

        ; AX KB from 1 MiB on: at most 15 MiB, and within the RAM run at 1 MiB.
        movzx ecx, word [e801_ax]
        shl ecx, 10
        mov eax, 15 * ONE_MIB
        xor edx, edx
        cmp ecx, eax
        ja .ax_check                    ; "above": the check fails
        mov eax, [run_1m]
        mov edx, [run_1m + 4]
        call fits_in
.ax_check:
        CHECK be, "bios: int 15h e801 1-16 MiB (ax) lies within e820's ram at 1 MiB"

        ; BX * 64 KiB: within the RAM between 16 MiB and 4 GiB.
        call ram_above_16m_kb
        movzx ecx, word [e801_bx]
        shl ecx, 6
        cmp ecx, eax
        CHECK be, "bios: int 15h e801 above 16 MiB (bx) lies within e820's ram above 16 MiB"
        ret

; INT 15h AH=88h (RBIL): AX = KB of contiguous memory from 1 MiB on.
int15_88:
        mov ah, 0x88
        clc
        int 0x15
        jnc .supported
        LINE "pxhv-guest: int 15h ah=88h: not supported (CF set)"
        stc
        CHECK nc, "bios: int 15h ah=88h supported"
        ret
.supported:
        PUT "pxhv-guest: int 15h ah=88h: "
        movzx ecx, ax
        mov eax, ecx
        call put_decimal
        PUT " KB from 1 MiB on"
        call end_line
        shl ecx, 10
        mov eax, [run_1m]
        mov edx, [run_1m + 4]
        call fits_in
        CHECK be, "bios: int 15h ah=88h lies within e820's ram at 1 MiB"
        ret

; ---------------------------------------------------------------------------
; A file on A: (RBIL INT 21h AH=3Ch create, 40h write, 3Eh close, 3Dh open,
; 3Fh read, 41h delete). Under pxHV its sectors go through pxHV's INT 13h.
; ---------------------------------------------------------------------------
file_test:
        ; A pattern that differs from sector to sector: byte i = i*7 + i/256.
        mov di, write_buffer
        xor cx, cx
.fill:  mov al, cl
        mov ah, 7
        mul ah
        add al, ch
        stosb
        inc cx
        cmp cx, FILE_BYTES
        jb .fill

        PUT "pxhv-guest: file: "
        mov si, file_name
        mov cx, file_name_len
        call put_text
        PUT ", "
        mov eax, FILE_BYTES
        call put_decimal
        PUT " bytes"
        call end_line

        mov ah, 0x3C
        xor cx, cx                      ; attributes: normal
        mov dx, file_name
        int 0x21
        mov [handle], ax
        CHECK nc, "dos: create PXHVCHK.TMP on A: (int 21h ah=3ch)"
        jc .done

        mov ah, 0x40
        mov bx, [handle]
        mov cx, FILE_BYTES
        mov dx, write_buffer
        int 0x21
        jc .write_bad
        cmp ax, FILE_BYTES
.write_bad:
        CHECK e, "dos: write 5000 bytes (int 21h ah=40h)"
        mov ah, 0x3E
        mov bx, [handle]
        int 0x21
        CHECK nc, "dos: close after writing (int 21h ah=3eh)"

        mov ax, 0x3D00                  ; open, read only
        mov dx, file_name
        int 0x21
        mov [handle], ax
        CHECK nc, "dos: open for reading (int 21h ah=3dh)"
        jc .delete
        ; One byte more than was written: the count shows the file's length.
        mov ah, 0x3F
        mov bx, [handle]
        mov cx, FILE_BYTES + 1
        mov dx, read_buffer
        int 0x21
        jc .read_bad
        cmp ax, FILE_BYTES
.read_bad:
        CHECK e, "dos: read back 5000 bytes (int 21h ah=3fh)"
        mov si, write_buffer
        mov di, read_buffer
        mov cx, FILE_BYTES
        repe cmpsb
        CHECK e, "dos: the bytes read back are the bytes written"
        mov ah, 0x3E
        mov bx, [handle]
        int 0x21
        CHECK nc, "dos: close after reading (int 21h ah=3eh)"

.delete:
        mov ah, 0x41
        mov dx, file_name
        int 0x21
        CHECK nc, "dos: delete (int 21h ah=41h)"
        mov ax, 0x3D00
        mov dx, file_name
        int 0x21
        jnc .still_there
        cmp ax, 2                       ; "file not found"
        jmp .gone
.still_there:
        mov bx, ax
        mov ah, 0x3E
        int 0x21
        or al, 1                        ; ZF clear: fail
.gone:  CHECK e, "dos: the deleted file is gone (int 21h ah=3dh: file not found)"
.done:  ret

; ---------------------------------------------------------------------------
; Checks
; ---------------------------------------------------------------------------

; report_check: BL = 1 passed / 0 failed, SI = name, CX = its length.
; Prints `pxhv-guest: check: <name>: pass|FAIL`; under pxHV also hypercall 2.
report_check:
        pushf
        pushad
        inc word [checks_total]
        test bl, bl
        jnz .passed
        inc word [checks_failed]
.passed:
        PUT "pxhv-guest: check: "
        call put_text
        test bl, bl
        jz .failed
        PUT ": pass"
        jmp .print
.failed:
        PUT ": FAIL"
.print: call end_line
        cmp byte [under_pxhv], 0
        je .done
        movzx ebx, bl
        movzx edx, cx
        movzx ecx, si
        add ecx, [load_base]
        mov eax, HC_CHECK
        HYPERCALL
.done:  popad
        popf
        ret

; ---------------------------------------------------------------------------
; The output line: appended to, then written to standard output with one
; INT 21h AH=40h (handle 1: COM1 after AUTOEXEC.BAT's CTTY AUX).
; All of these preserve every register.
; ---------------------------------------------------------------------------

; put_text: append CX bytes at DS:SI (cut at the line's end).
put_text:
        pushad
        push es
        push ds
        pop es
        mov di, line_buffer
        add di, [line_length]
        mov ax, LINE_MAX
        sub ax, [line_length]
        cmp cx, ax
        jbe .fits
        mov cx, ax
.fits:  add [line_length], cx
        rep movsb
        pop es
        popad
        ret

; put_char: append AL.
put_char:
        push si
        push cx
        mov [char], al
        mov si, char
        mov cx, 1
        call put_text
        pop cx
        pop si
        ret

; put_printable: CX bytes at DS:SI, anything outside 0x20..0x7E as '.'.
put_printable:
        pushad
.next:  jcxz .done
        lodsb
        cmp al, 0x20
        jb .dot
        cmp al, 0x7E
        jbe .put
.dot:   mov al, '.'
.put:   call put_char
        dec cx
        jmp .next
.done:  popad
        ret

; put_asciiz: the NUL-terminated string at DS:SI (at most 80 bytes; control
; characters such as its own CR LF dropped). DS may be another segment:
; each byte goes through AL, and put_char uses ES = this program's segment.
put_asciiz:
        pushad
        mov cx, 80
.next:  lodsb
        test al, al
        jz .done
        cmp al, 0x20
        jb .skip
        push ds
        push cs
        pop ds
        call put_char
        pop ds
.skip:  loop .next
.done:  popad
        ret

; put_decimal: EAX unsigned.
put_decimal:
        pushad
        mov di, digits_end
        mov ecx, 10
.next:  xor edx, edx
        div ecx
        add dl, '0'
        dec di
        mov [di], dl
        test eax, eax
        jnz .next
        mov si, di
        mov cx, digits_end
        sub cx, di
        call put_text
        popad
        ret

; put_hex32 / put_hex8: EAX as 8 / AL as 2 hex digits; put_hex64: EDX:EAX.
put_hex64:
        xchg eax, edx
        call put_hex32
        xchg eax, edx
put_hex32:
        pushad
        mov cx, 8
.next:  rol eax, 4
        push ax
        call hex_digit
        pop ax
        loop .next
        popad
        ret
put_hex8:
        pushad
        rol al, 4
        push ax
        call hex_digit
        pop ax
        rol al, 4
        call hex_digit
        popad
        ret
hex_digit:
        and al, 0x0F
        add al, '0'
        cmp al, '9'
        jbe .put
        add al, 'a' - '9' - 1
.put:   jmp put_char

; end_line: append CR LF and write the line.
end_line:
        pushad
        PUT `\r\n`
        mov ah, 0x40
        mov bx, 1
        mov cx, [line_length]
        mov dx, line_buffer
        int 0x21
        mov word [line_length], 0
        popad
        ret

; ---------------------------------------------------------------------------
; Data
; ---------------------------------------------------------------------------
section .data

file_name:      db "A:\PXHVCHK.TMP", 0
file_name_len   equ $ - file_name - 1
keep_switch:    db "/KEEP"
keep_switch_len equ $ - keep_switch

; Every HYPERCALL site above, for HYPERCALL_SELECT (Guest/include/hypercall.inc).
HYPERCALL_SITES

section .bss

bss_start:
load_base:      resd 1
under_pxhv:     resb 1
keep_running:   resb 1
signature:      resb 12
dos_major:      resb 1
dos_minor:      resb 1
dos_oem:        resb 1
int12_kb:       resw 1
largest_block:  resw 1
e801_ax:        resw 1
e801_bx:        resw 1
checks_total:   resw 1
checks_failed:  resw 1
e820_ok:        resb 1
alignb 4
e820_count:     resw 1
alignb 4
run_1m:         resq 1
run_start:      resq 1
run_at:         resq 1
e820_table:     resb E820_SLOT * E820_MAX
handle:         resw 1
char:           resb 1
line_length:    resw 1
line_buffer:    resb LINE_MAX
digits:         resb 12
digits_end:
write_buffer:   resb FILE_BYTES
read_buffer:    resb FILE_BYTES + 1
bss_end:
