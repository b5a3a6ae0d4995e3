// Devices module: the few devices pxHV drives or models itself.
//
// - `PortIO`: the seam to `in`/`out`; the bare-metal program conforms over
//   the X86 shim, tests conform with a recording fake.
// - `UART16550`: the COM1 console (National Semiconductor PC16550D).
// - ACPI power-off discovery: RSDP -> RSDT/XSDT -> FADT -> DSDT `\_S5`,
//   producing an `ACPIPowerOff` that can switch the machine off and that
//   recognises a guest's own S5 request on the PM1a control port.
//
// Follows ACPI 6.5 and the PC16550D datasheet (June 1995). Every routine is
// generic over `PortIO` / `PhysicalMemory` (Embedded Swift has no `any P`
// for non-class protocols).
