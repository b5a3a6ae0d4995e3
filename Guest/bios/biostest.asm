; pxHV BIOS test guest: a 1.44 MB boot floppy, or with -DHARD_DISK a 4 MiB
; hard disk (`--guest bios`).
;
; The BIOS guest contract (Guest/README.md, "BIOS guests"): the hypervisor
; loads sector 0 at 0:7C00 and starts it in real mode with DL = the drive
; (00h floppy, 80h hard disk), interrupts on, the machine's own BIOS in place, and INT 13h for
; that drive and INT 15h E820h/E801h/88h served by pxHV from the image.
; This guest reads the rest of itself with INT 13h, then checks those
; services and attacks them (each check reported with hypercall 2), and
; powers off with hypercall 4 (status 0: every check passed).
;
; Disk layout: sectors 0-17 (cylinder 0, head 0) are this program; sectors
; 64 to the end hold a pattern the checks read: the first word of sector n
; is n, the other 510 bytes are n & 0xFF. The hard disk (8192 sectors) has
; the geometry pxHV gives that size: 8 cylinders of 16 heads and 63
; sectors (8064 sectors by CHS), the last 128 sectors reachable by LBA
; (EDD) only; its extended functions are checked and attacked too.
;
; Assemble: nasm -f bin -I Guest/include/ [-DHARD_DISK] -o biostest.img Guest/bios/biostest.asm

BITS 16

HC_WRITE        equ 1
HC_CHECK        equ 2
HC_POWER_OFF    equ 4
HC_BIOS         equ 10
HV_MEMORY_GPA   equ 0x200000            ; hypervisor memory (Guest/README.md)
PROGRAM_SECTORS equ 18
PATTERN_FIRST   equ 64
%ifdef HARD_DISK
DRIVE           equ 0x80
CYLINDERS       equ 8
HEADS           equ 16
SPT             equ 63
TOTAL_SECTORS   equ 8192
%else
DRIVE           equ 0x00
CYLINDERS       equ 80
HEADS           equ 2
SPT             equ 18
TOTAL_SECTORS   equ 2880
%endif
; A run of 4 sectors that crosses from cylinder 1 to cylinder 2.
CROSS_LBA       equ 2 * HEADS * SPT - 2
PATTERN_START   equ 0x7C00 + PATTERN_FIRST * 512

%include "hypercall.inc"

%include "check.inc"

; PRINT `text`: hypercall 1. Clobbers EAX, EBX, ECX.
%macro PRINT 1
[section .data]
%%text: db %1
%%len   equ $ - %%text
__SECT__
        mov ebx, %%text
        mov ecx, %%len
        mov eax, HC_WRITE
        HYPERCALL
%endmacro

; DISK function, lba, count, segment: INT 13h AH=function (02h read,
; 03h write) of `count` sectors at `lba` to or from segment:0 (by CHS, in
; the disk's geometry, cylinders below 256; `segment` an immediate or a
; memory operand). Leaves the INT's AX and CF.
%macro DISK 4
        mov ax, %4
        mov es, ax
        xor bx, bx
        mov cx, (((%2) / (HEADS * SPT)) << 8) | (((%2) % SPT) + 1)
        mov dh, ((%2) / SPT) % HEADS
        mov dl, [boot_drive]
        mov ax, ((%1) << 8) | (%3)
        int 0x13
%endmacro

%define READ DISK 0x02,

section .text start=0x7C00
boot:
        jmp 0:.start                    ; CS = 0 whatever the BIOS used
.start: cli
        xor ax, ax
        mov ds, ax
        mov ss, ax
        mov sp, 0x7C00
        sti
        cld
        push dx                         ; DL: the drive (boot_drive is in the
                                        ; sectors the read below loads)
        ; The rest of track 0: sectors 2-18 (LBA 1-17) to 0:7E00.
        mov ax, 0x07E0
        mov es, ax
        xor bx, bx
        mov cx, 0x0002
        xor dh, dh
        mov ax, 0x0200 | (PROGRAM_SECTORS - 1)
        int 0x13
        jc .failed
        cmp al, PROGRAM_SECTORS - 1
        jne .failed
        pop dx
        mov [boot_drive], dl
        jmp main
.failed:
        ; Without the rest of the program there is no hypercall table:
        ; stop with interrupts off (the hypervisor reports the halt).
        cli
        hlt
        times 510 - ($ - $$) db 0
        dw 0xAA55

main:
        HYPERCALL_SELECT
        PRINT `pxhv-guest: bios test guest up\n`
        mov al, [boot_drive]
        cmp al, DRIVE
        CHECK e, "bios: boot drive in DL is the disk's (00h floppy, 80h hard disk)"

        ; -- INT 13h AH=08h: the geometry ------------------------------------
        mov ah, 0x08
        mov dl, [boot_drive]
        int 0x13
        setnc [scratch]
        cmp byte [scratch], 1
        jne .geo
        cmp ch, CYLINDERS - 1
        jne .geo
        cmp cl, SPT
        jne .geo
        cmp dh, HEADS - 1
        jne .geo
%ifndef HARD_DISK
        cmp bl, 0x04                    ; 1.44 MB drive type
        jne .geo
%endif
        cmp dl, 1
        jb .geo
        cmp ah, 0
.geo:   CHECK e, "bios: int 13h ah=08h reports the image's geometry"

        mov ah, 0x15
        mov dl, [boot_drive]
        int 0x13
        setnc [scratch]
        cmp byte [scratch], 1
        jne .type
%ifdef HARD_DISK
        cmp ah, 0x03                    ; a hard disk of CX:DX sectors
        jne .type
        test cx, cx
        jne .type
        cmp dx, CYLINDERS * HEADS * SPT
%else
        cmp ah, 0x01                    ; a floppy without change line
%endif
.type:  CHECK e, "bios: int 13h ah=15h reports the drive type"

        ; -- reads ------------------------------------------------------------
        READ 100, 1, 0x2000
        call expect_ok_1
        mov si, 100
        mov ax, 0x2000
        call sector_holds_pattern
        CHECK e, "bios: int 13h read lba 100"

        ; Four sectors: the last two of cylinder 1, the first two of
        ; cylinder 2 (a run across heads and a cylinder).
        READ CROSS_LBA, 4, 0x2000
        jc .run
        cmp ax, 0x0004
        jne .run
        mov cx, 4
        mov si, CROSS_LBA
        mov ax, 0x2000
.runs:  push cx
        push ax
        call sector_holds_pattern
        pop ax
        pop cx
        jne .run
        inc si
        add ax, 512 / 16
        loop .runs
        cmp ax, ax                      ; all four matched: ZF=1
.run:   CHECK e, "bios: int 13h read of 4 sectors across a cylinder"

        ; -- write, read back --------------------------------------------------
        mov ax, 0x3000
        mov es, ax
        xor di, di
        mov cx, 512
        mov al, 0x5A
        rep stosb
        DISK 0x03, 200, 1, 0x3000
        call expect_ok_1
        CHECK e, "bios: int 13h write lba 200"
        READ 200, 1, 0x2000
        call expect_ok_1
        jne .back
        push ds
        mov ax, 0x2000
        mov ds, ax
        xor si, si
        mov cx, 512
.cmp:   lodsb
        cmp al, 0x5A
        loopz .cmp
        pop ds
.back:  CHECK e, "bios: int 13h read back what was written"

        ; -- errors are BIOS errors -------------------------------------------
        mov ax, 0x2000
        mov es, ax
        xor bx, bx
        mov cx, (CYLINDERS << 8) | 1    ; the cylinder after the last
        xor dh, dh
        mov dl, [boot_drive]
        mov ax, 0x0201
        int 0x13
        call expect_error_04
        CHECK e, "bios: int 13h read past the end: cf, ah=04h"
        mov ah, 0x01
        mov dl, [boot_drive]
        int 0x13
        cmp ah, 0x04
        CHECK e, "bios: int 13h ah=01h returns the last status 04h"

        READ 5, 0, 0x2000
        call expect_error_01
        CHECK e, "bios: int 13h read of 0 sectors: cf, ah=01h"
%ifdef HARD_DISK
        call edd_checks
%else
        mov ah, 0x41
        mov bx, 0x55AA
        mov dl, [boot_drive]
        int 0x13
        call expect_error_01
        CHECK e, "bios: int 13h ah=41h on a floppy: cf, ah=01h"
%endif
        mov ah, 0x50
        mov dl, [boot_drive]
        int 0x13
        call expect_error_01
        CHECK e, "bios: int 13h unknown function 50h: cf, ah=01h"

        ; -- INT 12h, E820, E801, 88h ----------------------------------------
        int 0x12
        mov [base_kib], ax
        cmp ax, 639
        CHECK b, "bios: int 12h reports less than 639 KiB (pxHV's pages taken)"
        call check_e820
        mov ax, 0xE801
        int 0x15
        mov [e801_ax], ax
        mov byte [scratch], 0
        jc .e801
        cmp ax, cx
        jne .e801
        cmp bx, dx
        jne .e801
        cmp ax, 0x3C00
        ja .e801
        mov byte [scratch], 1
.e801:  cmp byte [scratch], 1
        CHECK e, "bios: int 15h e801h ax=cx <= 3c00h, bx=dx"
        mov ah, 0x88
        int 0x15
        cmp ax, [e801_ax]
        CHECK e, "bios: int 15h ah=88h equals e801h's ax (memory contiguous from 1 MiB)"
        ; Contiguous from 1 MiB ends where pxHV begins: 1 MiB (1024 KiB).
        cmp word [e801_ax], (HV_MEMORY_GPA - 0x100000) / 1024
        CHECK be, "bios: memory contiguous from 1 MiB stops at the hypervisor"

        ; -- pxHV's handler ----------------------------------------------------
        xor ax, ax
        mov es, ax
        mov ax, [es:0x13 * 4 + 2]       ; INT 13h segment
        mov [handler_segment], ax
        mov es, ax
        cmp dword [es:10], 'pxHV'
        CHECK e, "bios: ivt 13h points at pxHV's handler"
        mov ax, [base_kib]
        shl ax, 6                       ; KiB -> paragraphs
        cmp [handler_segment], ax
        CHECK ae, "bios: the handler lies above the base memory int 12h reports"

        ; -- attacks -----------------------------------------------------------
        ; A read into pxHV's handler page (reserved): refused, nothing moves.
        READ 100, 1, [handler_segment]
        call expect_error_01
        CHECK e, "attack: int 13h read into the handler page: cf, ah=01h"
        mov es, [handler_segment]
        cmp dword [es:10], 'pxHV'
        CHECK e, "attack: the handler page is unchanged"

        ; E820 into the handler page: refused.
        mov es, [handler_segment]
        xor di, di
        xor ebx, ebx
        mov eax, 0xE820
        mov edx, 'PAMS'
        mov ecx, 24
        int 0x15
        setc [scratch]
        cmp byte [scratch], 1
        CHECK e, "attack: int 15h e820h into the handler page: cf"

        ; Hypercall 10 with frames the hypervisor must not read: its own
        ; memory, the ROM, the top of the address space; and a frame in RAM
        ; that names an interrupt pxHV does not serve.
        mov ebx, HV_MEMORY_GPA
        call bios_hypercall
        cmp eax, -1
        CHECK e, "attack: hypercall 10 frame in hypervisor memory refused"
        mov ebx, 0xF0000
        call bios_hypercall
        cmp eax, -1
        CHECK e, "attack: hypercall 10 frame in the bios rom refused"
        mov ebx, 0xFFFFFFF0
        call bios_hypercall
        cmp eax, -1
        CHECK e, "attack: hypercall 10 frame at 4 GiB - 16 refused"
        mov dword [frame + 36], 0x10    ; interrupt 10h
        mov dword [frame + 28], 0x0201  ; AX
        mov ebx, frame
        call bios_hypercall
        cmp eax, -1
        jne .f10
        cmp dword [frame + 28], 0x0201
.f10:   CHECK e, "attack: hypercall 10 for int 10h refused, frame unchanged"

        ; -- A20 stays on --------------------------------------------------------
        in al, 0x92
        and al, 0xFC                    ; A20 off, no reset
        out 0x92, al
        call a20_wraps
        CHECK ne, "bios: a20 still on after port 92h bit 1 cleared"
        in al, 0x92
        or al, 0x02
        out 0x92, al

        ; -- done --------------------------------------------------------------
        PRINT `pxhv-guest: bios test guest done\n`
        mov ebx, [failures]
        mov eax, HC_POWER_OFF
        HYPERCALL
        cli
        hlt

%ifdef HARD_DISK
; edd_checks: the EDD functions (41h, 42h, 43h, 48h) on the hard disk, and
; attacks on them.
edd_checks:
        mov ah, 0x41
        mov bx, 0x55AA
        mov dl, [boot_drive]
        int 0x13
        jc .x41
        cmp bx, 0xAA55
        jne .x41
        test cl, 1
        jz .x41
        cmp ah, 0x21
.x41:   CHECK e, "edd: int 13h ah=41h: extensions present (aa55h, version 21h, cx bit 0)"

        ; LBA 8100: past what CHS reaches (8064 sectors).
        mov eax, 8100
        mov cx, 1
        call edd_read
        jc .x42
        mov si, 8100
        mov ax, 0x2000
        call sector_holds_pattern
.x42:   CHECK e, "edd: int 13h ah=42h reads lba 8100 (beyond chs)"

        ; Write LBA 8000 from 3000:0 (5Ah bytes, filled above), read back.
        mov word [packet + 2], 1
        mov dword [packet + 4], 0x30000000
        mov dword [packet + 8], 8000
        mov si, packet
        mov ah, 0x43
        xor al, al
        mov dl, [boot_drive]
        int 0x13
        jc .x43
        mov eax, 8000
        mov cx, 1
        call edd_read
        jc .x43
        push ds
        mov ax, 0x2000
        mov ds, ax
        xor si, si
        mov cx, 512
.cmp43: lodsb
        cmp al, 0x5A
        loopz .cmp43
        pop ds
.x43:   CHECK e, "edd: int 13h ah=43h writes lba 8000, ah=42h reads it back"

        ; Four sectors from 8190: two exist; CF, AH=04h, count rewritten.
        mov eax, 8190
        mov cx, 4
        call edd_read
        jnc .x44
        cmp ah, 0x04
        jne .x44
        cmp word [packet + 2], 2
.x44:   CHECK e, "edd: int 13h ah=42h past the end: cf, ah=04h, count 2"

        ; 48h: the drive parameters.
        mov word [params], 0x1E
        mov si, params
        mov ah, 0x48
        mov dl, [boot_drive]
        int 0x13
        jc .x48
        cmp word [params], 0x1A
        jne .x48
        cmp dword [params + 0x10], TOTAL_SECTORS
        jne .x48
        cmp word [params + 0x18], 512
.x48:   CHECK e, "edd: int 13h ah=48h: 8192 sectors of 512 bytes"

        ; Attack: a 64-bit flat buffer (FFFF:FFFF) at the hypervisor's memory.
        mov byte [packet], 0x18
        mov word [packet + 2], 1
        mov dword [packet + 4], 0xFFFFFFFF
        mov dword [packet + 8], 100
        mov dword [packet + 12], 0
        mov dword [packet + 16], HV_MEMORY_GPA
        mov dword [packet + 20], 0
        mov si, packet
        mov ah, 0x42
        mov dl, [boot_drive]
        int 0x13
        call expect_error_01
        CHECK e, "attack: edd read into hypervisor memory (flat pointer): cf, ah=01h"
        ; And a packet in the BIOS ROM: refused before it is read.
        push ds
        mov ax, 0xF000
        mov ds, ax
        xor si, si
        mov ah, 0x42
        mov dl, [cs:boot_drive]
        int 0x13
        pop ds
        call expect_error_01
        CHECK e, "attack: edd packet in the bios rom: cf, ah=01h"
        ret

; edd_read: INT 13h AH=42h of CX sectors at LBA EAX to 2000:0 through a
; 16-byte packet. Leaves the INT's AH and CF.
edd_read:
        mov byte [packet], 0x10
        mov byte [packet + 1], 0
        mov [packet + 2], cx
        mov dword [packet + 4], 0x20000000
        mov [packet + 8], eax
        mov dword [packet + 12], 0
        mov si, packet
        mov ah, 0x42
        mov dl, [boot_drive]
        int 0x13
        ret
%endif

; hc_check: EBX = pass, ECX = name, EDX = length; counts failures.
hc_check:
        cmp ebx, 1
        je .pass
        inc dword [failures]
.pass:  mov eax, HC_CHECK
        HYPERCALL
        ret

; bios_hypercall: RAX = 10, RBX as given; EAX = the result.
bios_hypercall:
        mov eax, HC_BIOS
        HYPERCALL
        ret

; expect_ok_1: ZF = CF clear and AX = 0001h (one sector moved).
expect_ok_1:
        jc .no
        cmp ax, 0x0001
        ret
.no:    or sp, sp                       ; ZF=0 (SP is never 0 here)
        ret

; expect_error_01 / _04: ZF = CF set and AH = 01h / 04h.
expect_error_01:
        jnc .no
        cmp ah, 0x01
        ret
.no:    or sp, sp
        ret
expect_error_04:
        jnc .no
        cmp ah, 0x04
        ret
.no:    or sp, sp
        ret

; sector_holds_pattern: ZF = the sector at AX:0 is pattern sector SI.
sector_holds_pattern:
        push ds
        mov ds, ax
        cmp [0], si
        jne .done
        mov cx, si
        mov bx, 2
.byte:  cmp [bx], cl
        jne .done
        inc bx
        cmp bx, 512
        jne .byte
.done:  pop ds
        ret

; check_e820: walks INT 15h E820h; checks the signature on every entry, a
; usable range above 1 MiB, no usable range holding the hypervisor's first
; byte or any of [int 12h's top, 640 KiB).
check_e820:
        xor ebx, ebx
        mov byte [e820_bad], 0
        mov byte [e820_high], 0
        mov word [e820_count], 0
.next:  xor ax, ax
        mov es, ax
        mov di, e820_entry
        mov eax, 0xE820
        mov edx, 'PAMS'
        mov ecx, 24
        int 0x15
        jc .bad
        cmp eax, 'PAMS'
        jne .bad
        inc word [e820_count]
        cmp dword [e820_entry + 16], 1
        jne .cont
        ; usable: [base, base + length), 32-bit parts suffice below 4 GiB
        mov eax, [e820_entry]
        mov edx, eax
        add edx, [e820_entry + 8]       ; EDX = end
        cmp eax, 0x100000
        jb .low
        mov byte [e820_high], 1
.low:   cmp eax, HV_MEMORY_GPA          ; holds the hypervisor's first byte?
        ja .top
        cmp edx, HV_MEMORY_GPA
        jbe .top
        mov byte [e820_bad], 1
.top:   movzx ecx, word [base_kib]
        shl ecx, 10
        cmp eax, 0xA0000                ; overlaps [int 12h top, 640 KiB)?
        jae .cont
        cmp edx, ecx
        jbe .cont
        mov byte [e820_bad], 1
.cont:  test ebx, ebx
        jz .end
        cmp word [e820_count], 64
        jb .next
.bad:   mov byte [e820_bad], 1
.end:   cmp byte [e820_bad], 0
        CHECK e, "bios: int 15h e820h: no usable range holds pxHV's memory or pages"
        cmp byte [e820_high], 1
        CHECK e, "bios: int 15h e820h: usable memory above 1 MiB"
        ret

; a20_wraps: ZF=0 when 0:0500h and FFFF:0510h (= 1 MiB + 500h) are one
; byte, i.e. A20 is off.
a20_wraps:
        push ds
        push es
        xor ax, ax
        mov ds, ax
        mov ax, 0xFFFF
        mov es, ax
        mov byte [0x500], 0x11
        mov byte [es:0x510], 0x22
        cmp byte [0x500], 0x22
        pop es
        pop ds
        ret

section .data follows=.text
boot_drive:     db 0
scratch:        db 0
failures:       dd 0
base_kib:       dw 0
e801_ax:        dw 0
handler_segment: dw 0
e820_bad:       db 0
e820_high:      db 0
e820_count:     dw 0
align 4
e820_entry:     times 24 db 0
frame:          times 44 db 0
packet:         times 24 db 0
params:         times 30 db 0
HYPERCALL_SITES

; The pattern sectors, at their LBAs.
section .pattern start=PATTERN_START
%assign lba PATTERN_FIRST
%rep TOTAL_SECTORS - PATTERN_FIRST
        dw lba
        times 510 db (lba & 0xFF)
%assign lba lba + 1
%endrep
