package io.kmem;

import java.nio.file.Path;

/**
 * Where a pool finds the host's device files: sysfs (PCI functions, UIO maps), /dev
 * ({@code mem}, {@code uioN}) and procfs ({@code iomem}, {@code ioports}). {@link #HOST} by
 * default; tests point a pool at a fake tree of regular files with {@link #under}.
 *
 * @param sys  sysfs: {@code bus/pci/devices/...}, {@code class/uio/...} below it
 * @param dev  devices: {@code mem}, {@code uio0}, ...
 * @param proc procfs: {@code iomem}, {@code ioports}
 */
public record IoRoots(Path sys, Path dev, Path proc) {
    /** The real host: /sys, /dev, /proc. */
    public static final IoRoots HOST = new IoRoots(Path.of("/sys"), Path.of("/dev"), Path.of("/proc"));

    /**
     * {@code root/sys}, {@code root/dev} and {@code root/proc}: a fake tree for tests.
     *
     * @param root the directory holding {@code sys}, {@code dev} and {@code proc}
     * @return the roots under it
     */
    public static IoRoots under(Path root) {
        return new IoRoots(root.resolve("sys"), root.resolve("dev"), root.resolve("proc"));
    }
}
