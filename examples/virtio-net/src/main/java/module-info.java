/**
 * A user-space driver for virtio-net (virtio 1.0 over PCI, split virtqueues), written on
 * kmem's public API only: no FFM of its own, no sysfs, no file descriptors. It is the
 * walkthrough of the README's "Writing a driver on kmem" and runs in the QEMU guest of
 * {@code tools/vm-test nic}.
 */
module io.kmem.example.virtionet {
    requires transitive io.kmem;
    exports io.kmem.example.virtionet;
}
