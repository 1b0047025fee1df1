package io.kmem.internal.mmio;

import io.kmem.internal.lib.LazyLogger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The two resource trees of a pool, {@code iomem_resource} and {@code ioport_resource}, each
 * seeded on first use with the host's {@code /proc/iomem} or {@code /proc/ioports} (under the
 * configured procfs root; a missing file seeds nothing, a file read without CAP_SYS_ADMIN
 * shows only zeros and seeds nothing either). See {@link ResourceTree} for the algorithm.
 *
 * <p>Thread safety: seeding is guarded by this object's monitor, each tree by its own.
 */
public final class IoResources {
    private static final System.Logger LOG = LazyLogger.of("io.kmem.internal.mmio");
    private final ResourceTree iomem = ResourceTree.iomem();
    private final ResourceTree ioports = ResourceTree.ioports();
    private final Ioremap roots;
    private boolean memSeeded;
    private boolean ioSeeded;

    /** Trees that read the host's files under {@code roots.procRoot()} at first use. */
    public IoResources(Ioremap roots) {
        this.roots = roots;
    }

    /** {@code request_mem_region}: claims {@code [start, start + n)} for {@code name}; see {@link ResourceTree#request}. */
    public ResourceTree.Region requestMemRegion(long start, long n, String name) {
        return mem().request("request_mem_region", start, n, name, Caller.get());
    }

    /** {@code release_mem_region}; see {@link ResourceTree#release}. */
    public ResourceTree.Region releaseMemRegion(long start, long n) {
        return mem().release("release_mem_region", start, n);
    }

    /** {@code request_region} (I/O ports). */
    public ResourceTree.Region requestRegion(long start, long n, String name) {
        return io().request("request_region", start, n, name, Caller.get());
    }

    /** {@code release_region} (I/O ports). */
    public ResourceTree.Region releaseRegion(long start, long n) {
        return io().release("release_region", start, n);
    }

    /** {@code /proc/iomem}: the host's resources and the regions requested here. */
    public String iomem() {
        return mem().report();
    }

    /** {@code /proc/ioports}. */
    public String ioports() {
        return io().report();
    }

    /** The memory regions requested here, in address order. */
    public List<ResourceTree.Region> requestedMem() {
        return mem().requested();
    }

    private synchronized ResourceTree mem() {
        if (!memSeeded) {
            memSeeded = true;
            seed(iomem, roots.procRoot().resolve("iomem"));
        }
        return iomem;
    }

    private synchronized ResourceTree io() {
        if (!ioSeeded) {
            ioSeeded = true;
            seed(ioports, roots.procRoot().resolve("ioports"));
        }
        return ioports;
    }

    private static void seed(ResourceTree tree, Path file) {
        if (Files.isReadable(file)) {
            IomemFile f = IomemFile.read(file);
            if (f.hidden()) {
                LOG.log(System.Logger.Level.WARNING, file + " shows every address as 0 (read without CAP_SYS_ADMIN):"
                        + " requests are checked against each other only, not against the host's resources");
            }
            tree.seed(f);
        }
    }
}
