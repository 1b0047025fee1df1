/**
 * The guest drivers of {@code make vm-test}, written on kmem and run as root inside small QEMU
 * guests by {@code tools/vm-test}: a driver for QEMU's {@code edu} PCI device (kmem's physical
 * addresses are real: the device DMAs to and from them), the long-term pin proven by forcing
 * migration, and the proof of the example virtio-net driver ({@code examples/virtio-net}).
 */
module io.kmem.vmtest {
    requires io.kmem;
    requires io.kmem.example.virtionet;
}
