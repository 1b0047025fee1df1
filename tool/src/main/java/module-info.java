/**
 * The kmem command-line tool: {@code kmem tour}, {@code info} (of a pool here or, with {@code --pid}, of a running JVM's pools), {@code top}, {@code stress},
 * {@code map}, {@code bench}. It uses only what module {@code io.kmem} exports, as any
 * driver would.
 */
module io.kmem.tool {
    requires io.kmem;
    // kmem info --pid and kmem top --pid: attach to another JVM and read its pools' MXBeans.
    requires jdk.attach;
    requires java.management;
    requires java.management.rmi;
}
