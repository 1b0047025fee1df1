package io.kmem.internal.mmio;

import io.kmem.error.KmemException;
import io.kmem.error.PrivilegeException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A parsed {@code /proc/iomem} or {@code /proc/ioports}: the kernel's resource tree as
 * {@code r_show} prints it, one resource a line, two spaces of indent per level:
 *
 * <pre>
 * 00100000-bfffffff : System RAM
 *   01000000-0220bb07 : Kernel code
 * 4000000000-7fffffffff : PCI Bus 0000:00
 *   4000180000-40001fffff : 0000:00:04.0
 * </pre>
 *
 * Without CAP_SYS_ADMIN the kernel prints every address as 0 ({@code iomem_map_sanity} and
 * {@code r_show} hide them); {@link #hidden()} says so, and {@link #systemRam} refuses to
 * answer from such a file rather than answer wrongly.
 *
 * @param path    where it was read
 * @param entries the resources in file order (a parent before its children)
 */
public record IomemFile(Path path, List<Entry> entries) {

    private static final Pattern LINE = Pattern.compile("^( *)([0-9a-fA-F]+)-([0-9a-fA-F]+) : (.*)$");

    /** The name the kernel gives system memory ({@code IORESOURCE_SYSTEM_RAM}). */
    public static final String SYSTEM_RAM = "System RAM";

    /**
     * One resource.
     *
     * @param start first address
     * @param end   last address (inclusive, as the kernel keeps it)
     * @param name  its owner's name
     * @param depth 0 for a child of the root, 1 for its children, ...
     */
    public record Entry(long start, long end, String name, int depth) {
    }

    /**
     * Reads and parses {@code path}.
     *
     * @throws KmemException when the file cannot be read, or a line is not in r_show's format
     */
    public static IomemFile read(Path path) {
        List<String> lines;
        try {
            lines = Files.readAllLines(path);
        } catch (NoSuchFileException e) {
            throw new KmemException("cannot read " + path + ": no such file (is procfs mounted?)");
        } catch (IOException e) {
            throw new KmemException("cannot read " + path + ": " + e.getMessage(), e);
        }
        return parse(path, lines);
    }

    /**
     * Parses lines in r_show's format.
     *
     * @throws KmemException for a line in another format, or an indent that skips a level
     */
    public static IomemFile parse(Path path, List<String> lines) {
        List<Entry> entries = new ArrayList<>();
        int depth = -1;
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i);
            if (line.isBlank()) {
                continue;
            }
            Matcher m = LINE.matcher(line);
            if (!m.matches() || m.group(1).length() % 2 != 0) {
                throw new KmemException(path + ":" + (i + 1) + ": not a resource line (\"  start-end : name\"): " + line);
            }
            int d = m.group(1).length() / 2;
            if (d > depth + 1) {
                throw new KmemException(path + ":" + (i + 1) + ": indent skips a level: " + line);
            }
            long start = Long.parseUnsignedLong(m.group(2), 16);
            long end = Long.parseUnsignedLong(m.group(3), 16);
            if (Long.compareUnsigned(end, start) < 0) {
                throw new KmemException(path + ":" + (i + 1) + ": end below start: " + line);
            }
            entries.add(new Entry(start, end, m.group(4), d));
            depth = d;
        }
        return new IomemFile(path, List.copyOf(entries));
    }

    /** True when every address reads 0: the kernel hides them from readers without CAP_SYS_ADMIN. */
    public boolean hidden() {
        if (entries.isEmpty()) {
            return false;
        }
        for (Entry e : entries) {
            if (e.start != 0 || e.end != 0) {
                return false;
            }
        }
        return true;
    }

    /**
     * The first "System RAM" range (at any depth) that overlaps {@code [start, end]}, or null.
     *
     * @throws PrivilegeException when the file hides its addresses (read without CAP_SYS_ADMIN)
     */
    public Entry systemRam(long start, long end) {
        if (hidden()) {
            throw new PrivilegeException(path + " shows every address as 0: it was read without CAP_SYS_ADMIN, so"
                    + " System RAM cannot be told from device memory; run as root");
        }
        for (Entry e : entries) {
            if (e.name.equals(SYSTEM_RAM) && Long.compareUnsigned(e.start, end) <= 0
                    && Long.compareUnsigned(start, e.end) <= 0) {
                return e;
            }
        }
        return null;
    }
}
