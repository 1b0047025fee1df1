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

    /**
     * Whether the platform MBean server is up (it is the first server made): asking
     * {@link ManagementFactory#getPlatformMBeanServer} would start it.
     */
    static boolean serverStarted() {
        return !MBeanServerFactory.findMBeanServer(null).isEmpty();
    }

    /**
     * Registers {@code bean} as {@code io.kmem:type=MemoryPool,name=<pool>}, or {@code <pool>#2},
     * {@code #3} ... when an open pool has the name already. Returns what unregisters it.
     */
    static AutoCloseable register(String pool, KmemPoolMXBean bean) {
        MBeanServer server = ManagementFactory.getPlatformMBeanServer();
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
