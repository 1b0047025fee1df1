package io.kmem.internal.pci;

/**
 * A PCI function's configuration space, however it is reached: sysfs's {@code config} file
 * ({@link PciDevImpl}) or a VFIO device's config region. Accesses are little-endian, of 1, 2 or
 * 4 bytes aligned to their size.
 */
public interface ConfigSpace {
    /** Reads {@code size} bytes at {@code where}; {@code function} names the caller in messages. */
    int readConfig(String function, int where, int size);

    /** Writes the low {@code size} bytes of {@code value} at {@code where}. */
    void writeConfig(String function, int where, int size, int value);

    /** Sets ({@code on}) or clears {@code bits} of the command register, writing only on a change. */
    default void setCommand(String function, int bits, boolean on) {
        int cmd = readConfig(function, PciDevImpl.PCI_COMMAND, 2);
        int want = on ? cmd | bits : cmd & ~bits;
        if (want != cmd) {
            writeConfig(function, PciDevImpl.PCI_COMMAND, 2, want);
        }
    }
}
