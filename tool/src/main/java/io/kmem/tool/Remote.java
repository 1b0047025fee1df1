package io.kmem.tool;

import com.sun.tools.attach.AttachNotSupportedException;
import com.sun.tools.attach.VirtualMachine;
import io.kmem.stats.KmemPoolMXBean;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import javax.management.JMX;
import javax.management.MBeanServerConnection;
import javax.management.MalformedObjectNameException;
import javax.management.ObjectName;
import javax.management.remote.JMXConnector;
import javax.management.remote.JMXConnectorFactory;
import javax.management.remote.JMXServiceURL;

/**
 * The pools of another JVM: attaches to it with the JDK's attach API, starts its local JMX
 * agent ({@code VirtualMachine.startLocalManagementAgent}, as {@code jconsole} does) and
 * reads the MXBeans its pools registered ({@code io.kmem:type=MemoryPool,name=...}). Every way
 * this can fail becomes a {@link RemoteException} with a message for the user.
 */
final class Remote implements AutoCloseable {
    /** One pool of the target: its JMX name and a proxy reading its figures. */
    record Pool(String name, KmemPoolMXBean bean) {
    }

    /** Why the target's pools cannot be read; {@code status} is the tool's exit status. */
    static final class RemoteException extends RuntimeException {
        private static final long serialVersionUID = 1L;
        final int status;

        RemoteException(int status, String message) {
            super(message);
            this.status = status;
        }
    }

    private final long pid;
    private final String description;
    private final JMXConnector connector;
    private final MBeanServerConnection server;

    private Remote(long pid, String description, JMXConnector connector) throws IOException {
        this.pid = pid;
        this.description = description;
        this.connector = connector;
        this.server = connector.getMBeanServerConnection();
    }

    /** Connects to JVM {@code pid}. */
    static Remote attach(long pid) {
        if (pid == ProcessHandle.current().pid()) {
            throw new RemoteException(Main.USAGE, "process " + pid + " is this kmem tool; give the PID of the JVM"
                    + " that runs the driver (jps -l lists Java processes)");
        }
        Optional<ProcessHandle> process = ProcessHandle.of(pid);
        if (process.isEmpty()) {
            throw new RemoteException(Main.USAGE, "no process " + pid + " (jps -l lists Java processes)");
        }
        ProcessHandle.Info info = process.get().info();
        String command = info.command().orElse("?");
        String owner = info.user().orElse(null);
        String self = System.getProperty("user.name");
        VirtualMachine vm;
        try {
            vm = VirtualMachine.attach(Long.toString(pid));
        } catch (AttachNotSupportedException | IOException e) {
            throw whyNot(pid, command, owner, self, e);
        }
        try {
            String address = vm.startLocalManagementAgent();
            String display = vm.getSystemProperties().getProperty("sun.java.command", command);
            JMXConnector c = JMXConnectorFactory.connect(new JMXServiceURL(address));
            return new Remote(pid, display.split(" ")[0], c);
        } catch (IOException | RuntimeException e) {
            throw new RemoteException(Main.FAILED, "attached to JVM " + pid + " but could not start or reach its"
                    + " JMX agent: " + e.getMessage() + " (a jlinked runtime needs module jdk.management.agent)");
        } finally {
            try {
                vm.detach();
            } catch (IOException ignored) {
                // The JMX connection, made or not, does not depend on the attach channel.
            }
        }
    }

    private static RemoteException whyNot(long pid, String command, String owner, String self, Exception e) {
        String msg = String.valueOf(e.getMessage());
        boolean isJava = command.endsWith("/java") || command.endsWith("/javaw");
        boolean otherUser = owner != null && !owner.equals(self) && !self.equals("root");
        if (msg.contains("Permission denied") || msg.contains("Operation not permitted") || (isJava && otherUser)) {
            return new RemoteException(Main.USAGE, "permission denied attaching to JVM " + pid + " (owned by "
                    + (owner == null ? "another user" : owner) + "): run kmem as that user or as root");
        }
        if (!isJava) {
            return new RemoteException(Main.USAGE, "process " + pid + " (" + command + ") is not a Java virtual"
                    + " machine; jps -l lists Java processes");
        }
        return new RemoteException(Main.USAGE, "JVM " + pid + " does not accept attach (" + msg + "); it may run"
                + " with -XX:+DisableAttachMechanism, or in another container or /tmp");
    }

    /** The target's pools, by JMX name; a {@link RemoteException} when it has none. */
    List<Pool> pools(String only) {
        Set<ObjectName> names;
        try {
            names = new TreeSet<>(server.queryNames(new ObjectName(KmemPoolMXBean.TYPE + ",*"), null));
        } catch (IOException e) {
            throw gone(e);
        } catch (MalformedObjectNameException e) {
            throw new IllegalStateException(e);
        }
        List<Pool> out = new ArrayList<>();
        for (ObjectName n : names) {
            String name = poolName(n);
            if (only == null || only.equals(name)) {
                out.add(new Pool(name, JMX.newMXBeanProxy(server, n, KmemPoolMXBean.class)));
            }
        }
        if (out.isEmpty()) {
            throw new RemoteException(Main.FAILED, only != null && !names.isEmpty()
                    ? "JVM " + pid + " (" + description + ") has no kmem pool named '" + only + "'; its pools: "
                      + names.stream().map(n -> poolName(n)).toList()
                    : "JVM " + pid + " (" + description + ") has no kmem pool open (no MBean "
                      + KmemPoolMXBean.TYPE + ",name=...)");
        }
        return out;
    }

    private static String poolName(ObjectName n) {
        String v = n.getKeyProperty("name");
        return v.startsWith("\"") ? ObjectName.unquote(v) : v;
    }

    /** What the target runs (its main class or jar), for headings. */
    String description() {
        return description;
    }

    /** The error for a connection lost mid-way (the JVM exited). */
    RemoteException gone(Exception e) {
        return new RemoteException(Main.FAILED, "lost JVM " + pid + " (" + description + "): " + e.getMessage());
    }

    @Override
    public void close() {
        try {
            connector.close();
        } catch (IOException ignored) {
            // The target may be gone already; nothing is left to release here.
        }
    }
}
