/**
 * The kmem command-line tool: {@code kmem tour}, {@code info}, {@code top}, {@code stress},
 * {@code map}, {@code bench}. It uses only what module {@code io.kmem} exports, as any
 * driver would.
 */
module io.kmem.tool {
    requires io.kmem;
}
