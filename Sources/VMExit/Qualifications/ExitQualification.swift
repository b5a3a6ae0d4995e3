/// Namespace for the exit-qualification layouts (VMCS encoding 0x6400, 64
/// bits), one struct per exit family, each a named-bitfield view of the raw
/// value.
///
/// Intel SDM Vol. 3C, "Exit Qualification for ..." tables in
/// "Basic VM-Exit Information" (28.2.1 in rev. 84)
/// (read from `VMCS.exitQualification`, VMXCore's catalogue).
public enum ExitQualification {}
