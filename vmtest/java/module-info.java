/**
 * The guest driver of {@code make vm-test}: a user-space driver for QEMU's {@code edu} PCI
 * device, written on kmem, run as root inside a small QEMU guest by {@code tools/vm-test}.
 * It proves that kmem's physical addresses are real: the device DMAs to and from them.
 */
module io.kmem.vmtest {
    requires io.kmem;
}
