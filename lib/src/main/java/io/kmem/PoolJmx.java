package io.kmem;

import io.kmem.stats.KmemPoolMXBean;
import java.lang.management.ManagementFactory;
import javax.management.InstanceAlreadyExistsException;
import javax.management.JMException;
import javax.management.MBeanServer;
import javax.management.MBeanServerFactory;
import javax.management.ObjectName;

/**
 * The pool's MXBean in the platform MBean server. The only class that names
 * {@code javax.management}: module {@code io.kmem} requires {@code java.management}
 * statically, and {@link PoolTelemetry} loads this class only when the runtime has it.
 */
final class PoolJmx {
    private PoolJmx() {
    }

    /** {@link ManagementFactory#getPlatformMBeanServer} has returned to a registration here. */
    private static volatile boolean up;
    /** A pool's thread is starting the platform MBean server (its first registration). */
    private static volatile boolean starting;

    /**
     * Whether the platform MBean server is up, so that a registration costs no more than
     * itself: asking {@link ManagementFactory#getPlatformMBeanServer} would otherwise start
     * it (about 470 classes), or wait for the pool's thread that is starting it.
     */
    static boolean serverUp() {
        if (up) {
            return true;
        }
        return !starting && !MBeanServerFactory.findMBeanServer(null).isEmpty();
    }

    /** A pool's thread is about to make the first registration, which starts the server. */
    static void startingInBackground() {
        starting = true;
    }

    /**
     * Registers {@code bean} as {@code io.kmem:type=MemoryPool,name=<pool>}, or {@code <pool>#2},
     * {@code #3} ... when an open pool has the name already. Returns what unregisters it.
     */
    static AutoCloseable register(String pool, KmemPoolMXBean bean) {
        MBeanServer server = ManagementFactory.getPlatformMBeanServer();
        up = true;
        for (int n = 1; ; n++) {
            String name = n == 1 ? pool : pool + "#" + n;
            try {
                ObjectName on = objectName(name);
                server.registerMBean(bean, on);
                return () -> {
                    if (server.isRegistered(on)) {
                        server.unregisterMBean(on);
                    }
                };
            } catch (InstanceAlreadyExistsException taken) {
                // Another open pool has this name: try the next number.
            } catch (JMException e) {
                throw new IllegalStateException("pool '" + pool + "': registering its MXBean: " + e, e);
            }
        }
    }

    /** {@code io.kmem:type=MemoryPool,name=NAME}, the name quoted when it holds JMX's special characters. */
    static ObjectName objectName(String name) throws JMException {
        String value = name.matches("[^,=:\"*?\\\\\n]+") ? name : ObjectName.quote(name);
        return new ObjectName(KmemPoolMXBean.TYPE + ",name=" + value);
    }
}
