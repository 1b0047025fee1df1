/**
 * The system calls kmem makes, and the only place it makes them: {@link io.kmem.internal.sys.Sys}
 * wraps the jextract bindings of {@code io.kmem.bindings}, captures errno per call and
 * throws {@link io.kmem.error.SyscallException} naming the call, errno and the fix. Internal:
 * the module does not export it.
 */
package io.kmem.internal.sys;
