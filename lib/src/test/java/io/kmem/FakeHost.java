package io.kmem;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * A fake host tree of regular files for tests: {@code proc/iomem}, {@code dev/mem},
 * {@code dev/uioN}, {@code sys/class/uio/...} and PCI functions under
 * {@code sys/bus/pci/devices}, as the real files look. Point a pool at it with
 * {@code pool.ioRoots(host.roots())}. The "device side" of a fake device file is read and
 * written here with plain file I/O, independent of kmem's mappings.
 */
public final class FakeHost implements AutoCloseable {
    private final Path root;

    public FakeHost() {
        try {
            root = Files.createTempDirectory("kmem-fakehost");
            Files.createDirectories(root.resolve("proc"));
            Files.createDirectories(root.resolve("dev"));
            Files.createDirectories(root.resolve("sys/bus/pci/devices"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public Path root() {
        return root;
    }

    public IoRoots roots() {
        return IoRoots.under(root);
    }

    /** Writes {@code proc/iomem}. */
    public FakeHost iomem(String text) {
        write(root.resolve("proc/iomem"), text);
        return this;
    }

    /** Writes {@code proc/ioports}. */
    public FakeHost ioports(String text) {
        write(root.resolve("proc/ioports"), text);
        return this;
    }

    /** A sparse {@code dev/mem} of {@code bytes} (a regular file: the physical address is the offset). */
    public Path devMem(long bytes) {
        return sparse(root.resolve("dev/mem"), bytes);
    }

    /** A sparse regular file of {@code bytes}. */
    public static Path sparse(Path file, long bytes) {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(bytes);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return file;
    }

    /**
     * A UIO device {@code uioN} whose map M has physical address {@code addrs[M]}, size
     * {@code sizes[M]} and in-page offset {@code offsets[M]}; {@code dev/uioN} holds each map's
     * bytes at M * 4096 (+ offset), as the UIO core's mmap offsets put them.
     */
    public Path uio(int n, long[] addrs, long[] sizes, long[] offsets) {
        try {
            long end = 0;
            for (int m = 0; m < addrs.length; m++) {
                Path d = root.resolve("sys/class/uio/uio" + n + "/maps/map" + m);
                Files.createDirectories(d);
                write(d.resolve("addr"), String.format("0x%016x%n", addrs[m]));
                write(d.resolve("size"), String.format("0x%016x%n", sizes[m]));
                write(d.resolve("offset"), String.format("0x%x%n", offsets[m]));
                write(d.resolve("name"), "map" + m + "\n");
                end = Math.max(end, (long) m * 4096 + ((offsets[m] + sizes[m] + 4095) & -4096L));
            }
            return sparse(root.resolve("dev/uio" + n), end);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * A PCI function: {@code vendor}, {@code device}, {@code class}, {@code enable} "0",
     * a 256-byte {@code config} with the ids at 0 and a command register of 0, a
     * {@code resource} file with the BARs given (start, len, flags; the rest zero), and a
     * {@code resourceN} file of the BAR's size for each memory BAR.
     */
    public Path pci(String name, int vendor, int device, long[][] bars) {
        Path d = root.resolve("sys/bus/pci/devices/" + name);
        try {
            Files.createDirectories(d);
            write(d.resolve("vendor"), String.format("0x%04x%n", vendor));
            write(d.resolve("device"), String.format("0x%04x%n", device));
            write(d.resolve("class"), "0x00ff00\n");
            write(d.resolve("enable"), "0\n");
            ByteBuffer cfg = ByteBuffer.allocate(256).order(ByteOrder.LITTLE_ENDIAN);
            cfg.putShort(0, (short) vendor).putShort(2, (short) device);
            Files.write(d.resolve("config"), cfg.array());
            StringBuilder res = new StringBuilder();
            for (int i = 0; i < 13; i++) {
                long[] b = i < bars.length ? bars[i] : new long[] {0, 0, 0};
                long start = b[0];
                long end = b[1] == 0 ? 0 : b[0] + b[1] - 1;
                res.append(String.format("0x%016x 0x%016x 0x%016x%n", start, end, b[2]));
                if (i < bars.length && b[1] > 0 && (b[2] & 0x200) != 0) {
                    sparse(d.resolve("resource" + i), b[1]);
                }
            }
            write(d.resolve("resource"), res.toString());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return d;
    }

    /** Reads {@code n} bytes at {@code offset} of {@code file} with plain file I/O (the device's view). */
    public static byte[] read(Path file, long offset, int n) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer b = ByteBuffer.allocate(n);
            while (b.hasRemaining() && ch.read(b, offset + b.position()) > 0) {
                // keep reading
            }
            return b.array();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Writes {@code bytes} at {@code offset} of {@code file} with plain file I/O (the device writing). */
    public static void write(Path file, long offset, byte[] bytes) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ByteBuffer b = ByteBuffer.wrap(bytes);
            while (b.hasRemaining()) {
                ch.write(b, offset + b.position());
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static String text(Path file) {
        try {
            return Files.readString(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void write(Path file, String text) {
        try {
            Files.writeString(file, text);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void close() {
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
