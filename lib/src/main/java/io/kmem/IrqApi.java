package io.kmem;

import io.kmem.error.KmemException;

/**
 * Interrupt lines, as {@code <linux/interrupt.h>} declares them: {@link #request_irq} and
 * {@link #free_irq} for the irq numbers {@link PciApi#pci_irq_vector} hands out.
 *
 * <p>A handler runs on its line's own platform thread, {@code irq/N-name} (the kernel's name for
 * a threaded handler), never on the thread that requested it, and in atomic context: only
 * {@code GFP_ATOMIC} (or {@code GFP_NOWAIT}) may allocate there. A {@code GFP_KERNEL}
 * allocation (or a GFP_KERNEL-backed {@code vmalloc}) made by a handler is reported as the
 * kernel's {@code might_sleep} reports it, "BUG: sleeping function called from invalid
 * context", naming the handler, with an {@code io.kmem.SleepInAtomic} JFR event; then it is
 * allowed, as the kernel carries on after the warning.
 *
 * <p>Sources: a function open through VFIO signals eventfds ({@code VFIO_DEVICE_SET_IRQS};
 * INTx is unmasked after each handler call); a function bound to a UIO driver is read from
 * {@code /dev/uioN} (the count) and re-enabled after each call: a write of 1 to it, or, for
 * {@code uio_pci_generic}, which has no irqcontrol, clearing the command register's Interrupt
 * Disable bit.
 *
 * <p>{@link MemoryPool} implements this contract; thread safety and the rules for arguments
 * are MemoryPool's.
 */
public interface IrqApi {

    /**
     * {@code request_irq}: runs {@code handler} for every interrupt of {@code irq} on a thread
     * of its own, in atomic context, from now until {@link #free_irq}.
     *
     * @param irq     an irq number from {@link PciApi#pci_irq_vector}
     * @param handler the handler; returns {@link IrqHandler#IRQ_HANDLED} or
     *                {@link IrqHandler#IRQ_NONE}
     * @param name    the device's name, shown in the thread's name and in {@link #interrupts()}
     * @return 0, or {@code -EINVAL} for an irq number not handed out, {@code -EBUSY} for one
     *         that has a handler
     * @throws IllegalArgumentException for an empty name
     */
    int request_irq(int irq, IrqHandler handler, String name);

    /**
     * {@code free_irq}: the line stops delivering and its thread ends; a handler running now
     * finishes first.
     *
     * @param irq a line with a handler
     * @throws KmemException for a line without one ("Trying to free already-free IRQ"), or a
     *         call from the line's own handler
     */
    void free_irq(int irq);

    /**
     * {@code kstat_irqs}: the interrupts delivered to {@code irq} so far.
     *
     * @param irq an irq number
     * @return the count (0 for a number never handed out)
     */
    long kstat_irqs(int irq);

    /**
     * {@code /proc/interrupts} for this pool's lines: irq, count, unhandled (the handler
     * returned IRQ_NONE), type (VFIO-MSI, VFIO-MSIX, VFIO-INTx, UIO-INTx), device, name; then
     * the number of "sleeping function called from invalid context" reports so far.
     *
     * @return the report, one line per irq number handed out
     */
    String interrupts();
}
