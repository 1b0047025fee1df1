package io.kmem.internal.vfio;

import io.kmem.error.KmemException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

/**
 * What must hold before a PCI function opens through VFIO, read from sysfs and /dev, so that
 * each way it can fail gives its own message and its fix instead of an errno from an ioctl:
 *
 * <pre>
 *  check                                  file                                         fix
 *  1 the function exists                  {sys}/bus/pci/devices/BDF                    the address (lspci -D)
 *  2 an IOMMU is on and VFIO loaded       {dev}/vfio/vfio, {sys}/kernel/iommu_groups   intel_iommu=on iommu=pt; modprobe vfio-pci
 *  3 the function is in an IOMMU group    {sys}/bus/pci/devices/BDF/iommu_group        (follows from 2)
 *  4 it is bound to vfio-pci              {sys}/bus/pci/devices/BDF/driver             driver_override + drivers_probe, once
 *  5 the group is viable                  {sys}/kernel/iommu_groups/N/devices/*        bind the others to vfio-pci too, or unbind them
 *  6 the group file opens read-write      {dev}/vfio/N                                 chown/chmod it, or run as root
 * </pre>
 *
 * Viability as the kernel decides it: every function of the group is bound to vfio-pci, to no
 * driver, or to a driver VFIO tolerates ({@code pci-stub}, and {@code pcieport} for bridges).
 */
public final class VfioPreflight {
    /** Drivers a group may hold besides vfio-pci and still be viable. */
    static final Set<String> TOLERATED = Set.of("vfio-pci", "pci-stub", "pcieport");

    private VfioPreflight() {
    }

    /**
     * Runs the checks for {@code bdf} ("0000:00:04.0") and returns its IOMMU group number.
     *
     * @throws KmemException naming the failed check and its fix
     */
    public static int check(Path sys, Path dev, String bdf) {
        Path fn = sys.resolve("bus/pci/devices").resolve(bdf);
        if (!Files.isDirectory(fn)) {
            throw new KmemException("vfio_open(" + bdf + "): no PCI function " + bdf + " (" + fn + " does not exist);"
                    + " give its full address as lspci -D prints it, domain included");
        }
        Path groups = sys.resolve("kernel/iommu_groups");
        boolean iommuOn = hasEntries(groups);
        if (!Files.exists(dev.resolve("vfio/vfio"))) {
            throw new KmemException("vfio_open(" + bdf + "): no IOMMU/VFIO: " + dev.resolve("vfio/vfio") + " does not"
                    + " exist; " + (iommuOn ? "the IOMMU is on, VFIO is not loaded: modprobe vfio-pci"
                    : "the IOMMU is off (" + groups + " is empty): boot with intel_iommu=on (AMD: amd_iommu=on) and"
                    + " iommu=pt, then modprobe vfio-pci") + ". Without an IOMMU use physical-address mode"
                    + " (pci_get_device and the DMA API: root, for the pagemap)");
        }
        Path link = fn.resolve("iommu_group");
        if (!Files.exists(link)) {
            throw new KmemException("vfio_open(" + bdf + "): " + bdf + " is in no IOMMU group (" + link + " does not"
                    + " exist): the IOMMU does not translate for it; boot with intel_iommu=on (AMD: amd_iommu=on)");
        }
        int group;
        try {
            group = Integer.parseInt(Files.readSymbolicLink(link).getFileName().toString());
        } catch (IOException | NumberFormatException e) {
            throw new KmemException("vfio_open(" + bdf + "): cannot read the IOMMU group from " + link + ": " + e);
        }
        String driver = driver(fn);
        if (!"vfio-pci".equals(driver)) {
            throw new KmemException("vfio_open(" + bdf + "): " + bdf + " is " + (driver == null ? "bound to no driver"
                    : "bound to '" + driver + "'") + ", not to vfio-pci; bind it once (as root): "
                    + (driver == null ? "" : "echo " + bdf + " > " + sys.resolve("bus/pci/drivers/" + driver + "/unbind")
                    + "; ") + "modprobe vfio-pci; echo vfio-pci > " + fn.resolve("driver_override") + "; echo " + bdf
                    + " > " + sys.resolve("bus/pci/drivers_probe"));
        }
        List<String> offenders = new ArrayList<>();
        Path members = groups.resolve(Integer.toString(group)).resolve("devices");
        try (Stream<Path> s = Files.list(members)) {
            for (Path m : s.sorted().toList()) {
                String d = driver(m);
                if (d != null && !TOLERATED.contains(d)) {
                    offenders.add(m.getFileName() + " (bound to '" + d + "')");
                }
            }
        } catch (IOException e) {
            throw new KmemException("vfio_open(" + bdf + "): cannot list " + members + ": " + e);
        }
        if (!offenders.isEmpty()) {
            throw new KmemException("vfio_open(" + bdf + "): IOMMU group " + group + " is not viable: " + String.join(
                    ", ", offenders) + " share" + (offenders.size() == 1 ? "s" : "") + " it with " + bdf + " and the"
                    + " IOMMU cannot isolate them from each other; bind every function of the group to vfio-pci (or"
                    + " unbind it), or move the device to a slot with a group of its own (ACS)");
        }
        Path file = dev.resolve("vfio/" + group);
        if (!Files.exists(file)) {
            throw new KmemException("vfio_open(" + bdf + "): " + file + " does not exist although " + bdf + " is bound"
                    + " to vfio-pci (a container without devtmpfs? mknod it, or pass /dev/vfio in)");
        }
        if (!Files.isReadable(file) || !Files.isWritable(file)) {
            throw new KmemException("vfio_open(" + bdf + "): " + file + " is not readable and writable by this user;"
                    + " chown it to the driver's user (or run as root). The user also needs RLIMIT_MEMLOCK above the"
                    + " pool's size (ulimit -l) or CAP_IPC_LOCK: VFIO counts mapped pages as locked");
        }
        return group;
    }

    /** The driver bound to the function at {@code dir}, or null. */
    static String driver(Path dir) {
        try {
            return Files.readSymbolicLink(dir.resolve("driver")).getFileName().toString();
        } catch (IOException | UnsupportedOperationException e) {
            return null;
        }
    }

    private static boolean hasEntries(Path dir) {
        if (!Files.isDirectory(dir)) {
            return false;
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.findAny().isPresent();
        } catch (IOException e) {
            return false;
        }
    }
}
