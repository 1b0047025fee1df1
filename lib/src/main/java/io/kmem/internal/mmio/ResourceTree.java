package io.kmem.internal.mmio;

import io.kmem.error.BadAddressException;
import io.kmem.error.DoubleFreeException;
import io.kmem.error.ResourceBusyException;
import io.kmem.internal.trace.RecentFrees;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * The kernel's resource tree ({@code kernel/resource.c}) for one address space: physical
 * memory ({@code iomem_resource}, "PCI mem", the whole 64-bit range) or I/O ports
 * ({@code ioport_resource}, "PCI IO", 0 to 0xffff). {@code request_mem_region} and
 * {@code request_region} claim ranges in it; {@link #report()} prints it as
 * {@code /proc/iomem} does.
 *
 * <h2>Notation</h2>
 * <ul>
 *   <li><b>resource</b>: a range {@code [start, end]} (end inclusive, as in the kernel) with a
 *       name; its children lie inside it, sorted, without overlapping each other.</li>
 *   <li><b>busy</b>: a claimed range ({@code IORESOURCE_BUSY}): a driver owns it, nothing nests
 *       inside it. A resource that is not busy (a bus window, a device's BAR) is a container
 *       that requests may nest into.</li>
 *   <li><b>host</b> resources come from the host's {@code /proc/iomem} ({@link #seed}); the
 *       file does not show {@code IORESOURCE_BUSY}, so it is inferred: "System RAM" and
 *       "Reserved" are busy; any other resource with children is a container; a leaf is busy
 *       unless it is a bus window ("PCI Bus ...") or a PCI device's BAR ({@code 0000:00:04.0}:
 *       no driver claimed it). Host resources are never released.</li>
 * </ul>
 *
 * <pre>
 * PCI mem [0, 2^64-1]
 *   System RAM [0x100000, 0xbfffffff]          busy: a request overlapping it fails
 *   PCI Bus 0000:00 [0x4000000000, ...]        container
 *     0000:00:04.0 [0x4000180000, 0x40001fffff] container (a BAR nobody claimed)
 *       edu [0x4000180000, 0x400018ffff]       busy: what request_mem_region added
 * </pre>
 *
 * <h2>Request ({@code __request_region})</h2>
 * <ol>
 *   <li>Start at the root.</li>
 *   <li>Find the first child that overlaps the range. None: insert the range there, busy.</li>
 *   <li>A child that is not busy and holds the whole range: descend into it, go to 2.</li>
 *   <li>Anything else (a busy child, or a range that straddles a child's edge) is a conflict:
 *       throw, naming both ranges and both owners; the tree is unchanged.</li>
 * </ol>
 * Release ({@code __release_region}) descends the same way to the busy resource with exactly
 * that start and end, and removes it.
 *
 * <p>Thread safety: every method takes the tree's monitor.
 */
public final class ResourceTree {
    /** {@code IORESOURCE_IO}: an I/O port range. */
    public static final int IORESOURCE_IO = 0x100;
    /** {@code IORESOURCE_MEM}: a physical memory range. */
    public static final int IORESOURCE_MEM = 0x200;
    /** {@code IORESOURCE_BUSY}: claimed; nothing nests inside. */
    public static final int IORESOURCE_BUSY = 0x80000000;

    /** {@code MAX_IORES_LEVEL}: r_show indents at most this many levels. */
    private static final int MAX_IORES_LEVEL = 5;
    private static final Pattern PCI_ADDRESS = Pattern.compile("[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\\.[0-7]");
    private static final String HOST = "the host's ";

    /**
     * One resource of the tree.
     *
     * @param owner who asked for it: a caller ("EduDriver.probe(EduDriver.java:42)"), or for a
     *              host resource the file it came from
     */
    public record Region(long start, long end, String name, int flags, String owner) {
        /** True for a resource read from the host's file rather than requested here. */
        public boolean host() {
            return owner.startsWith(HOST);
        }
    }

    private static final class Node {
        final Region r;
        final List<Node> children = new ArrayList<>();

        Node(Region r) {
            this.r = r;
        }

        boolean busy() {
            return (r.flags & IORESOURCE_BUSY) != 0;
        }

        boolean holds(long start, long end) {
            return Long.compareUnsigned(r.start, start) <= 0 && Long.compareUnsigned(end, r.end) <= 0;
        }

        boolean overlaps(long start, long end) {
            return Long.compareUnsigned(r.start, end) <= 0 && Long.compareUnsigned(start, r.end) <= 0;
        }
    }

    private final Node root;
    /** The last releases (start, end): one of them released again is named a double release. */
    private final RecentFrees recentReleases = new RecentFrees(64);
    private final int type;
    private final String typeName;
    private final int width;

    private ResourceTree(String name, long end, int type) {
        this.root = new Node(new Region(0, end, name, type, "kmem"));
        this.type = type;
        this.typeName = type == IORESOURCE_IO ? "io " : "mem";
        this.width = Long.compareUnsigned(end, 0x10000) < 0 ? 4 : 8;
    }

    /** {@code iomem_resource}: "PCI mem", the whole physical address space. */
    public static ResourceTree iomem() {
        return new ResourceTree("PCI mem", -1L, IORESOURCE_MEM);
    }

    /** {@code ioport_resource}: "PCI IO", ports 0 to 0xffff. */
    public static ResourceTree ioports() {
        return new ResourceTree("PCI IO", 0xffff, IORESOURCE_IO);
    }

    /**
     * Adds the host's resources from a parsed {@code /proc/iomem} (or {@code /proc/ioports}),
     * nested as the file nests them, busy as the class comment infers. A file that hides its
     * addresses adds nothing.
     */
    public synchronized void seed(IomemFile file) {
        if (file.hidden()) {
            return;
        }
        List<IomemFile.Entry> es = file.entries();
        Node[] stack = new Node[64];
        stack[0] = root;
        for (int i = 0; i < es.size(); i++) {
            IomemFile.Entry e = es.get(i);
            boolean leaf = i + 1 == es.size() || es.get(i + 1).depth() <= e.depth();
            int d = Math.min(e.depth(), stack.length - 2);
            Node parent = stack[d];
            if (parent == null) {
                parent = root;
            }
            Node n = new Node(new Region(e.start(), e.end(), e.name(),
                    type | (hostBusy(e.name(), leaf) ? IORESOURCE_BUSY : 0), HOST + file.path()));
            insert(parent, n);
            stack[d + 1] = n;
        }
    }

    private static boolean hostBusy(String name, boolean leaf) {
        if (name.equals(IomemFile.SYSTEM_RAM) || name.equals("Reserved")) {
            return true;
        }
        return leaf && !name.startsWith("PCI Bus") && !PCI_ADDRESS.matcher(name).matches();
    }

    /**
     * {@code __request_region}: claims {@code [start, start + n - 1]} for {@code name}, nested in
     * the deepest container that holds it. Returns the new resource.
     *
     * @param function the kernel function to name in messages ("request_mem_region")
     * @throws ResourceBusyException when the range overlaps a busy resource or straddles the edge
     *         of a container; the tree is unchanged
     * @throws IllegalArgumentException for n &lt;= 0, a range that wraps, or one outside the space
     */
    public synchronized Region request(String function, long start, long n, String name, String owner) {
        long end = checkRange(function, start, n);
        if (name == null || name.isEmpty()) {
            throw new IllegalArgumentException(function + ": a region needs a name (the driver's), got none");
        }
        Region mine = new Region(start, end, name, type | IORESOURCE_BUSY, owner);
        Node parent = root;
        while (true) {
            Node c = firstOverlap(parent, start, end);
            if (c == null) {
                insert(parent, new Node(mine));
                return mine;
            }
            if (!c.busy() && c.holds(start, end)) {
                parent = c;
                continue;
            }
            String why = c.busy() ? "overlaps" : "straddles the edge of";
            throw new ResourceBusyException(function + "(" + format(start, end) + " '" + name + "', by " + owner + "): "
                    + why + " " + format(c.r.start, c.r.end) + " '" + c.r.name + "' ("
                    + (c.r.host() ? "from " + c.r.owner : (c.busy() ? "requested by " : "") + c.r.owner) + ")",
                    c.r.start, c.r.end, c.r.name);
        }
    }

    /**
     * {@code __release_region}: releases the region that {@link #request} claimed with exactly
     * this start and length.
     *
     * @throws BadAddressException when no requested region has that start and end (the kernel's
     *         "Trying to free nonexistent resource"), or it is the host's
     */
    public synchronized Region release(String function, long start, long n) {
        long end = checkRange(function, start, n);
        Node parent = root;
        while (true) {
            Node c = null;
            for (Node k : parent.children) {
                if (k.holds(start, end)) {
                    c = k;
                    break;
                }
            }
            if (c == null) {
                break;
            }
            if (!c.busy()) {
                parent = c;
                continue;
            }
            if (c.r.start != start || c.r.end != end) {
                break;
            }
            if (c.r.host()) {
                throw new BadAddressException(function + "(" + format(start, end) + "): '" + c.r.name
                        + "' belongs to the host (" + c.r.owner + "), not to a request of this process");
            }
            parent.children.remove(c);
            recentReleases.record(start, end);
            return c.r;
        }
        if (recentReleases.contains(start, end)) {
            throw new DoubleFreeException(function + "(" + format(start, end) + "): released twice: the region was"
                    + " released already");
        }
        throw new BadAddressException(function + ": Trying to free nonexistent resource <" + hex(start) + "-"
                + hex(end) + ">; expected the start and length a request_" + (type == IORESOURCE_IO ? "" : "mem_")
                + "region call was given");
    }

    /** The regions requested here (not the host's), in address order. */
    public synchronized List<Region> requested() {
        List<Region> out = new ArrayList<>();
        collect(root, out);
        return out;
    }

    private static void collect(Node n, List<Region> out) {
        for (Node c : n.children) {
            if (!c.r.host()) {
                out.add(c.r);
            }
            collect(c, out);
        }
    }

    /**
     * The tree as {@code /proc/iomem} ({@code /proc/ioports}) prints it: {@code r_show}'s
     * "%*s%0*llx-%0*llx : %s", two spaces per level, addresses at least 8 (ports: 4) digits.
     */
    public synchronized String report() {
        StringBuilder sb = new StringBuilder();
        for (Node c : root.children) {
            show(sb, c, 0);
        }
        return sb.toString();
    }

    private void show(StringBuilder sb, Node n, int depth) {
        sb.append(" ".repeat(Math.min(depth, MAX_IORES_LEVEL) * 2))
                .append(String.format(Locale.ROOT, "%0" + width + "x-%0" + width + "x : %s%n", n.r.start, n.r.end,
                        n.r.name));
        for (Node c : n.children) {
            show(sb, c, depth + 1);
        }
    }

    /** The kernel's %pR: "[mem 0xfebf0000-0xfebfffff]", "[io  0x03f8-0x03ff]". */
    public String format(long start, long end) {
        return String.format(Locale.ROOT, "[%s 0x%0" + width + "x-0x%0" + width + "x]", typeName, start, end);
    }

    private long checkRange(String function, long start, long n) {
        long end = start + n - 1;
        if (n <= 0 || Long.compareUnsigned(end, start) < 0 || Long.compareUnsigned(end, root.r.end) > 0) {
            throw new IllegalArgumentException(function + "(" + hex(start) + ", " + n + "): expected a length of at least"
                    + " 1 and a range inside " + format(root.r.start, root.r.end));
        }
        return end;
    }

    private static Node firstOverlap(Node parent, long start, long end) {
        for (Node c : parent.children) {
            if (c.overlaps(start, end)) {
                return c;
            }
        }
        return null;
    }

    /** Inserts {@code n} among {@code parent}'s children, sorted by start. */
    private static void insert(Node parent, Node n) {
        int i = 0;
        while (i < parent.children.size() && Long.compareUnsigned(parent.children.get(i).r.start, n.r.start) <= 0) {
            i++;
        }
        parent.children.add(i, n);
    }

    private static String hex(long v) {
        return "0x" + Long.toHexString(v);
    }
}
