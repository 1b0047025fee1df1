package io.kmem;

import io.kmem.stats.HostInfo;

/**
 * The kernel's names as static methods over one default {@link MemoryPool}, for drivers
 * written the way kernel drivers are: {@code Kernel.virt_to_phys(addr)}.
 *
 * <p>The default pool is built on first use: 64 MiB of 4 KiB frames, plus 2 MiB hugetlb
 * frames when the host has hugepages free (up to 64 MiB of them). Its name is "default".
 * Set it up differently, or first, with {@link #setDefaultPool}; close it with
 * {@link #shutdown}.
 */
public final class Kernel {
    private static final long DEFAULT_SMALL = 64L << 20;
    private static final long DEFAULT_HUGE_MAX = 64L << 20;
    private static volatile MemoryPool pool;

    private Kernel() {
    }

    /** The default pool, built on first use. */
    public static MemoryPool defaultPool() {
        MemoryPool p = pool;
        if (p == null) {
            synchronized (Kernel.class) {
                p = pool;
                if (p == null) {
                    pool = p = buildDefault();
                }
            }
        }
        return p;
    }

    /** Makes {@code p} the default pool; fails if one is already in use. */
    public static synchronized void setDefaultPool(MemoryPool p) {
        if (pool != null) {
            throw new IllegalStateException("setDefaultPool: the default pool '" + pool.name() + "' is already in use;"
                    + " call Kernel.shutdown() first");
        }
        pool = p;
    }

    /** Closes the default pool, if any; the next call builds a new one. */
    public static synchronized void shutdown() {
        if (pool != null) {
            pool.close();
            pool = null;
        }
    }

    /** The configuration {@link #defaultPool()} uses on this host. */
    public static MemoryPool.Builder defaultBuilder() {
        HostInfo host = HostInfo.read();
        long huge = Math.min(DEFAULT_HUGE_MAX, host.freeHugepages2m() * (2L << 20));
        return MemoryPool.builder().name("default").smallPages(DEFAULT_SMALL).hugePages2m(huge)
                .maxSmallPages(Math.max(DEFAULT_SMALL, host.memTotalBytes() / 4 & -4096L));
    }

    private static MemoryPool buildDefault() {
        return defaultBuilder().build();
    }

    /** {@code virt_to_phys} on the default pool; see {@link MemoryPool#virt_to_phys}. */
    public static long virt_to_phys(long addr) {
        return defaultPool().virt_to_phys(addr);
    }

    /** {@code phys_to_virt} on the default pool; see {@link MemoryPool#phys_to_virt}. */
    public static long phys_to_virt(long phys) {
        return defaultPool().phys_to_virt(phys);
    }

    /** {@code virt_to_page} on the default pool; see {@link MemoryPool#virt_to_page}. */
    public static long virt_to_page(long addr) {
        return defaultPool().virt_to_page(addr);
    }

    /** {@code virt_to_pfn} on the default pool; see {@link MemoryPool#virt_to_pfn}. */
    public static long virt_to_pfn(long addr) {
        return defaultPool().virt_to_pfn(addr);
    }

    /** {@code pfn_to_page} on the default pool; see {@link MemoryPool#pfn_to_page}. */
    public static long pfn_to_page(long pfn) {
        return defaultPool().pfn_to_page(pfn);
    }

    /** {@code page_to_pfn} on the default pool; see {@link MemoryPool#page_to_pfn}. */
    public static long page_to_pfn(long page) {
        return defaultPool().page_to_pfn(page);
    }

    /** {@code page_address} on the default pool; see {@link MemoryPool#page_address}. */
    public static long page_address(long page) {
        return defaultPool().page_address(page);
    }

    /** {@code page_to_phys} on the default pool; see {@link MemoryPool#page_to_phys}. */
    public static long page_to_phys(long page) {
        return defaultPool().page_to_phys(page);
    }

    /** {@code alloc_pages} on the default pool; see {@link MemoryPool#alloc_pages}. */
    public static long alloc_pages(int gfp, int order) {
        return defaultPool().alloc_pages(gfp, order);
    }

    /** {@code alloc_page} on the default pool; see {@link MemoryPool#alloc_page}. */
    public static long alloc_page(int gfp) {
        return defaultPool().alloc_page(gfp);
    }

    /** {@code __get_free_pages} on the default pool; see {@link MemoryPool#__get_free_pages}. */
    public static long __get_free_pages(int gfp, int order) {
        return defaultPool().__get_free_pages(gfp, order);
    }

    /** {@code __get_free_page} on the default pool; see {@link MemoryPool#__get_free_page}. */
    public static long __get_free_page(int gfp) {
        return defaultPool().__get_free_page(gfp);
    }

    /** {@code get_zeroed_page} on the default pool; see {@link MemoryPool#get_zeroed_page}. */
    public static long get_zeroed_page(int gfp) {
        return defaultPool().get_zeroed_page(gfp);
    }

    /** {@code __get_dma_pages} on the default pool; see {@link MemoryPool#__get_dma_pages}. */
    public static long __get_dma_pages(int gfp, int order) {
        return defaultPool().__get_dma_pages(gfp, order);
    }

    /** {@code free_pages} on the default pool; see {@link MemoryPool#free_pages}. */
    public static void free_pages(long addr, int order) {
        defaultPool().free_pages(addr, order);
    }

    /** {@code free_page} on the default pool; see {@link MemoryPool#free_page}. */
    public static void free_page(long addr) {
        defaultPool().free_page(addr);
    }

    /** {@code __free_pages} on the default pool; see {@link MemoryPool#__free_pages}. */
    public static void __free_pages(long page, int order) {
        defaultPool().__free_pages(page, order);
    }

    /** {@code __free_page} on the default pool; see {@link MemoryPool#__free_page}. */
    public static void __free_page(long page) {
        defaultPool().__free_page(page);
    }

    /** {@code alloc_pages_exact} on the default pool; see {@link MemoryPool#alloc_pages_exact}. */
    public static long alloc_pages_exact(long size, int gfp) {
        return defaultPool().alloc_pages_exact(size, gfp);
    }

    /** {@code free_pages_exact} on the default pool; see {@link MemoryPool#free_pages_exact}. */
    public static void free_pages_exact(long addr, long size) {
        defaultPool().free_pages_exact(addr, size);
    }

    /** {@code get_order}; see {@link MemoryPool#get_order}. */
    public static int get_order(long size) {
        return MemoryPool.get_order(size);
    }

    /** {@code drain_all_pages} on the default pool; see {@link MemoryPool#drain_all_pages}. */
    public static void drain_all_pages() {
        defaultPool().drain_all_pages();
    }

    // ------------------------------------------------------------------ slab allocator

    /** {@code kmalloc} on the default pool; see {@link MemoryPool#kmalloc}. */
    public static long kmalloc(long size, int gfp) {
        return defaultPool().kmalloc(size, gfp);
    }

    /** {@code kzalloc} on the default pool; see {@link MemoryPool#kzalloc}. */
    public static long kzalloc(long size, int gfp) {
        return defaultPool().kzalloc(size, gfp);
    }

    /** {@code kcalloc} on the default pool; see {@link MemoryPool#kcalloc}. */
    public static long kcalloc(long n, long size, int gfp) {
        return defaultPool().kcalloc(n, size, gfp);
    }

    /** {@code kmalloc_array} on the default pool; see {@link MemoryPool#kmalloc_array}. */
    public static long kmalloc_array(long n, long size, int gfp) {
        return defaultPool().kmalloc_array(n, size, gfp);
    }

    /** {@code krealloc} on the default pool; see {@link MemoryPool#krealloc}. */
    public static long krealloc(long p, long newSize, int gfp) {
        return defaultPool().krealloc(p, newSize, gfp);
    }

    /** {@code ksize} on the default pool; see {@link MemoryPool#ksize}. */
    public static long ksize(long p) {
        return defaultPool().ksize(p);
    }

    /** {@code kfree} on the default pool; see {@link MemoryPool#kfree}. */
    public static void kfree(long p) {
        defaultPool().kfree(p);
    }

    /** {@code kfree_sensitive} on the default pool; see {@link MemoryPool#kfree_sensitive}. */
    public static void kfree_sensitive(long p) {
        defaultPool().kfree_sensitive(p);
    }

    /** {@code kmemdup} on the default pool; see {@link MemoryPool#kmemdup(java.lang.foreign.MemorySegment, int)}. */
    public static long kmemdup(java.lang.foreign.MemorySegment src, int gfp) {
        return defaultPool().kmemdup(src, gfp);
    }

    /** {@code kmem_cache_create} on the default pool; see {@link MemoryPool#kmem_cache_create}. */
    public static KmemCache kmem_cache_create(String name, long size, long align, int flags,
                                              java.util.function.Consumer<java.lang.foreign.MemorySegment> ctor) {
        return defaultPool().kmem_cache_create(name, size, align, flags, ctor);
    }

    /** {@code kmem_cache_alloc} on the default pool; see {@link MemoryPool#kmem_cache_alloc}. */
    public static long kmem_cache_alloc(KmemCache cache, int gfp) {
        return defaultPool().kmem_cache_alloc(cache, gfp);
    }

    /** {@code kmem_cache_zalloc} on the default pool; see {@link MemoryPool#kmem_cache_zalloc}. */
    public static long kmem_cache_zalloc(KmemCache cache, int gfp) {
        return defaultPool().kmem_cache_zalloc(cache, gfp);
    }

    /** {@code kmem_cache_free} on the default pool; see {@link MemoryPool#kmem_cache_free}. */
    public static void kmem_cache_free(KmemCache cache, long objp) {
        defaultPool().kmem_cache_free(cache, objp);
    }

    /** {@code kmem_cache_alloc_bulk} on the default pool; see {@link MemoryPool#kmem_cache_alloc_bulk}. */
    public static int kmem_cache_alloc_bulk(KmemCache cache, int gfp, int size, long[] p) {
        return defaultPool().kmem_cache_alloc_bulk(cache, gfp, size, p);
    }

    /** {@code kmem_cache_free_bulk} on the default pool; see {@link MemoryPool#kmem_cache_free_bulk}. */
    public static void kmem_cache_free_bulk(KmemCache cache, int size, long[] p) {
        defaultPool().kmem_cache_free_bulk(cache, size, p);
    }

    /** {@code kmem_cache_shrink} on the default pool; see {@link MemoryPool#kmem_cache_shrink}. */
    public static long kmem_cache_shrink(KmemCache cache) {
        return defaultPool().kmem_cache_shrink(cache);
    }

    /** {@code kmem_cache_destroy} on the default pool; see {@link MemoryPool#kmem_cache_destroy}. */
    public static void kmem_cache_destroy(KmemCache cache) {
        defaultPool().kmem_cache_destroy(cache);
    }

    // ------------------------------------------------------------------ vmalloc

    /** {@code vmalloc} on the default pool; see {@link MemoryPool#vmalloc(long)}. */
    public static long vmalloc(long size) {
        return defaultPool().vmalloc(size);
    }

    /** {@code vzalloc} on the default pool; see {@link MemoryPool#vzalloc(long)}. */
    public static long vzalloc(long size) {
        return defaultPool().vzalloc(size);
    }

    /** {@code __vmalloc} on the default pool; see {@link MemoryPool#__vmalloc(long,int)}. */
    public static long __vmalloc(long size, int gfp) {
        return defaultPool().__vmalloc(size, gfp);
    }

    /** {@code vmalloc_32} on the default pool; see {@link MemoryPool#vmalloc_32(long)}. */
    public static long vmalloc_32(long size) {
        return defaultPool().vmalloc_32(size);
    }

    /** {@code vmalloc_user} on the default pool; see {@link MemoryPool#vmalloc_user(long)}. */
    public static long vmalloc_user(long size) {
        return defaultPool().vmalloc_user(size);
    }

    /** {@code vcalloc} on the default pool; see {@link MemoryPool#vcalloc(long,long)}. */
    public static long vcalloc(long n, long size) {
        return defaultPool().vcalloc(n, size);
    }

    /** {@code vfree} on the default pool; see {@link MemoryPool#vfree(long)}. */
    public static void vfree(long addr) {
        defaultPool().vfree(addr);
    }

    /** {@code vmap} on the default pool; see {@link MemoryPool#vmap(long[],int)}. */
    public static long vmap(long[] pages, int count) {
        return defaultPool().vmap(pages, count);
    }

    /** {@code vunmap} on the default pool; see {@link MemoryPool#vunmap(long)}. */
    public static void vunmap(long addr) {
        defaultPool().vunmap(addr);
    }

    /** {@code is_vmalloc_addr} on the default pool; see {@link MemoryPool#is_vmalloc_addr(long)}. */
    public static boolean is_vmalloc_addr(long addr) {
        return defaultPool().is_vmalloc_addr(addr);
    }

    /** {@code vmalloc_to_page} on the default pool; see {@link MemoryPool#vmalloc_to_page(long)}. */
    public static long vmalloc_to_page(long addr) {
        return defaultPool().vmalloc_to_page(addr);
    }

    /** {@code vmalloc_to_pfn} on the default pool; see {@link MemoryPool#vmalloc_to_pfn(long)}. */
    public static long vmalloc_to_pfn(long addr) {
        return defaultPool().vmalloc_to_pfn(addr);
    }

    /** {@code find_vm_area} on the default pool; see {@link MemoryPool#find_vm_area(long)}. */
    public static VmStruct find_vm_area(long addr) {
        return defaultPool().find_vm_area(addr);
    }

    /** {@code kvmalloc} on the default pool; see {@link MemoryPool#kvmalloc(long,int)}. */
    public static long kvmalloc(long size, int gfp) {
        return defaultPool().kvmalloc(size, gfp);
    }

    /** {@code kvzalloc} on the default pool; see {@link MemoryPool#kvzalloc(long,int)}. */
    public static long kvzalloc(long size, int gfp) {
        return defaultPool().kvzalloc(size, gfp);
    }

    /** {@code kvfree} on the default pool; see {@link MemoryPool#kvfree(long)}. */
    public static void kvfree(long addr) {
        defaultPool().kvfree(addr);
    }

    // ------------------------------------------------------------------ ioremap and MMIO

    /** {@code PCI_ANY_ID}; see {@link MemoryPool#PCI_ANY_ID}. */
    public static final int PCI_ANY_ID = MemoryPool.PCI_ANY_ID;

    /** {@code ioremap} on the default pool; see {@link MemoryPool#ioremap(long,long)}. */
    public static IoMem ioremap(long phys, long size) {
        return defaultPool().ioremap(phys, size);
    }

    /** {@code ioremap_uc} on the default pool; see {@link MemoryPool#ioremap_uc(long,long)}. */
    public static IoMem ioremap_uc(long phys, long size) {
        return defaultPool().ioremap_uc(phys, size);
    }

    /** {@code ioremap_wc} on the default pool; see {@link MemoryPool#ioremap_wc(long,long)}. */
    public static IoMem ioremap_wc(long phys, long size) {
        return defaultPool().ioremap_wc(phys, size);
    }

    /** {@code ioremap_cache} on the default pool; see {@link MemoryPool#ioremap_cache(long,long)}. */
    public static IoMem ioremap_cache(long phys, long size) {
        return defaultPool().ioremap_cache(phys, size);
    }

    /** {@code iounmap} on the default pool; see {@link MemoryPool#iounmap(IoMem)}. */
    public static void iounmap(IoMem io) {
        defaultPool().iounmap(io);
    }

    /** {@code iounmap} on the default pool; see {@link MemoryPool#iounmap(long)}. */
    public static void iounmap(long addr) {
        defaultPool().iounmap(addr);
    }

    /** {@code pci_get_device} on the default pool; see {@link MemoryPool#pci_get_device(int,int,PciDev)}. */
    public static PciDev pci_get_device(int vendor, int device, PciDev from) {
        return defaultPool().pci_get_device(vendor, device, from);
    }

    /** {@code pci_enable_device} on the default pool; see {@link MemoryPool#pci_enable_device(PciDev)}. */
    public static void pci_enable_device(PciDev dev) {
        defaultPool().pci_enable_device(dev);
    }

    /** {@code pci_disable_device} on the default pool; see {@link MemoryPool#pci_disable_device(PciDev)}. */
    public static void pci_disable_device(PciDev dev) {
        defaultPool().pci_disable_device(dev);
    }

    /** {@code pci_set_master} on the default pool; see {@link MemoryPool#pci_set_master(PciDev)}. */
    public static void pci_set_master(PciDev dev) {
        defaultPool().pci_set_master(dev);
    }

    /** {@code pci_clear_master} on the default pool; see {@link MemoryPool#pci_clear_master(PciDev)}. */
    public static void pci_clear_master(PciDev dev) {
        defaultPool().pci_clear_master(dev);
    }

    /** {@code pci_resource_start} on the default pool; see {@link MemoryPool#pci_resource_start(PciDev,int)}. */
    public static long pci_resource_start(PciDev dev, int bar) {
        return defaultPool().pci_resource_start(dev, bar);
    }

    /** {@code pci_resource_end} on the default pool; see {@link MemoryPool#pci_resource_end(PciDev,int)}. */
    public static long pci_resource_end(PciDev dev, int bar) {
        return defaultPool().pci_resource_end(dev, bar);
    }

    /** {@code pci_resource_len} on the default pool; see {@link MemoryPool#pci_resource_len(PciDev,int)}. */
    public static long pci_resource_len(PciDev dev, int bar) {
        return defaultPool().pci_resource_len(dev, bar);
    }

    /** {@code pci_resource_flags} on the default pool; see {@link MemoryPool#pci_resource_flags(PciDev,int)}. */
    public static long pci_resource_flags(PciDev dev, int bar) {
        return defaultPool().pci_resource_flags(dev, bar);
    }

    /** {@code pci_read_config_byte} on the default pool; see {@link MemoryPool#pci_read_config_byte(PciDev,int)}. */
    public static int pci_read_config_byte(PciDev dev, int where) {
        return defaultPool().pci_read_config_byte(dev, where);
    }

    /** {@code pci_read_config_word} on the default pool; see {@link MemoryPool#pci_read_config_word(PciDev,int)}. */
    public static int pci_read_config_word(PciDev dev, int where) {
        return defaultPool().pci_read_config_word(dev, where);
    }

    /** {@code pci_read_config_dword} on the default pool; see {@link MemoryPool#pci_read_config_dword(PciDev,int)}. */
    public static int pci_read_config_dword(PciDev dev, int where) {
        return defaultPool().pci_read_config_dword(dev, where);
    }

    /** {@code pci_write_config_byte} on the default pool; see {@link MemoryPool#pci_write_config_byte(PciDev,int,int)}. */
    public static void pci_write_config_byte(PciDev dev, int where, int val) {
        defaultPool().pci_write_config_byte(dev, where, val);
    }

    /** {@code pci_write_config_word} on the default pool; see {@link MemoryPool#pci_write_config_word(PciDev,int,int)}. */
    public static void pci_write_config_word(PciDev dev, int where, int val) {
        defaultPool().pci_write_config_word(dev, where, val);
    }

    /** {@code pci_write_config_dword} on the default pool; see {@link MemoryPool#pci_write_config_dword(PciDev,int,int)}. */
    public static void pci_write_config_dword(PciDev dev, int where, int val) {
        defaultPool().pci_write_config_dword(dev, where, val);
    }

    /** {@code pci_iomap} on the default pool; see {@link MemoryPool#pci_iomap(PciDev,int,long)}. */
    public static IoMem pci_iomap(PciDev dev, int bar, long maxlen) {
        return defaultPool().pci_iomap(dev, bar, maxlen);
    }

    /** {@code pci_iomap_wc} on the default pool; see {@link MemoryPool#pci_iomap_wc(PciDev,int,long)}. */
    public static IoMem pci_iomap_wc(PciDev dev, int bar, long maxlen) {
        return defaultPool().pci_iomap_wc(dev, bar, maxlen);
    }

    /** {@code pci_iomap_range} on the default pool; see {@link MemoryPool#pci_iomap_range(PciDev,int,long,long)}. */
    public static IoMem pci_iomap_range(PciDev dev, int bar, long offset, long maxlen) {
        return defaultPool().pci_iomap_range(dev, bar, offset, maxlen);
    }

    /** {@code pci_iounmap} on the default pool; see {@link MemoryPool#pci_iounmap(PciDev,IoMem)}. */
    public static void pci_iounmap(PciDev dev, IoMem io) {
        defaultPool().pci_iounmap(dev, io);
    }

    /** {@code request_mem_region} on the default pool; see {@link MemoryPool#request_mem_region(long,long,String)}. */
    public static Resource request_mem_region(long start, long n, String name) {
        return defaultPool().request_mem_region(start, n, name);
    }

    /** {@code release_mem_region} on the default pool; see {@link MemoryPool#release_mem_region(long,long)}. */
    public static void release_mem_region(long start, long n) {
        defaultPool().release_mem_region(start, n);
    }

    /** {@code request_region} on the default pool; see {@link MemoryPool#request_region(long,long,String)}. */
    public static Resource request_region(long start, long n, String name) {
        return defaultPool().request_region(start, n, name);
    }

    /** {@code release_region} on the default pool; see {@link MemoryPool#release_region(long,long)}. */
    public static void release_region(long start, long n) {
        defaultPool().release_region(start, n);
    }

    // ------------------------------------------------------------------ DMA API

    /** {@code DMA_MAPPING_ERROR}; see {@link MemoryPool#DMA_MAPPING_ERROR}. */
    public static final long DMA_MAPPING_ERROR = MemoryPool.DMA_MAPPING_ERROR;

    /** {@code DMA_BIT_MASK(n)}; see {@link MemoryPool#DMA_BIT_MASK}. */
    public static long DMA_BIT_MASK(int n) {
        return MemoryPool.DMA_BIT_MASK(n);
    }

    /** {@code dma_set_mask} on the default pool; see {@link MemoryPool#dma_set_mask(Device,long)}. */
    public static int dma_set_mask(Device dev, long mask) {
        return defaultPool().dma_set_mask(dev, mask);
    }

    /** {@code dma_set_coherent_mask} on the default pool; see {@link MemoryPool#dma_set_coherent_mask(Device,long)}. */
    public static int dma_set_coherent_mask(Device dev, long mask) {
        return defaultPool().dma_set_coherent_mask(dev, mask);
    }

    /** {@code dma_set_mask_and_coherent} on the default pool; see {@link MemoryPool#dma_set_mask_and_coherent(Device,long)}. */
    public static int dma_set_mask_and_coherent(Device dev, long mask) {
        return defaultPool().dma_set_mask_and_coherent(dev, mask);
    }

    /** {@code dma_get_mask} on the default pool; see {@link MemoryPool#dma_get_mask(Device)}. */
    public static long dma_get_mask(Device dev) {
        return defaultPool().dma_get_mask(dev);
    }

    /** {@code dma_supported} on the default pool; see {@link MemoryPool#dma_supported(Device,long)}. */
    public static boolean dma_supported(Device dev, long mask) {
        return defaultPool().dma_supported(dev, mask);
    }

    /** {@code dma_alloc_coherent} on the default pool; see {@link MemoryPool#dma_alloc_coherent(Device,long,int)}. */
    public static DmaBuffer dma_alloc_coherent(Device dev, long size, int gfp) {
        return defaultPool().dma_alloc_coherent(dev, size, gfp);
    }

    /** {@code dma_free_coherent} on the default pool; see {@link MemoryPool#dma_free_coherent(Device,long,long,long)}. */
    public static void dma_free_coherent(Device dev, long size, long cpuAddr, long dmaHandle) {
        defaultPool().dma_free_coherent(dev, size, cpuAddr, dmaHandle);
    }

    /** {@code dma_free_coherent} on the default pool; see {@link MemoryPool#dma_free_coherent(Device,DmaBuffer)}. */
    public static void dma_free_coherent(Device dev, DmaBuffer buf) {
        defaultPool().dma_free_coherent(dev, buf);
    }

    /** {@code dma_map_single} on the default pool; see {@link MemoryPool#dma_map_single(Device,long,long,DmaDirection)}. */
    public static long dma_map_single(Device dev, long cpuAddr, long size, DmaDirection dir) {
        return defaultPool().dma_map_single(dev, cpuAddr, size, dir);
    }

    /** {@code dma_unmap_single} on the default pool; see {@link MemoryPool#dma_unmap_single(Device,long,long,DmaDirection)}. */
    public static void dma_unmap_single(Device dev, long dmaAddr, long size, DmaDirection dir) {
        defaultPool().dma_unmap_single(dev, dmaAddr, size, dir);
    }

    /** {@code dma_map_page} on the default pool; see {@link MemoryPool#dma_map_page(Device,long,long,long,DmaDirection)}. */
    public static long dma_map_page(Device dev, long page, long offset, long size, DmaDirection dir) {
        return defaultPool().dma_map_page(dev, page, offset, size, dir);
    }

    /** {@code dma_unmap_page} on the default pool; see {@link MemoryPool#dma_unmap_page(Device,long,long,DmaDirection)}. */
    public static void dma_unmap_page(Device dev, long dmaAddr, long size, DmaDirection dir) {
        defaultPool().dma_unmap_page(dev, dmaAddr, size, dir);
    }

    /** {@code dma_mapping_error} on the default pool; see {@link MemoryPool#dma_mapping_error(Device,long)}. */
    public static boolean dma_mapping_error(Device dev, long dmaAddr) {
        return defaultPool().dma_mapping_error(dev, dmaAddr);
    }

    /** {@code dma_sync_single_for_cpu} on the default pool; see {@link MemoryPool#dma_sync_single_for_cpu(Device,long,long,DmaDirection)}. */
    public static void dma_sync_single_for_cpu(Device dev, long dmaAddr, long size, DmaDirection dir) {
        defaultPool().dma_sync_single_for_cpu(dev, dmaAddr, size, dir);
    }

    /** {@code dma_sync_single_for_device} on the default pool; see {@link MemoryPool#dma_sync_single_for_device(Device,long,long,DmaDirection)}. */
    public static void dma_sync_single_for_device(Device dev, long dmaAddr, long size, DmaDirection dir) {
        defaultPool().dma_sync_single_for_device(dev, dmaAddr, size, dir);
    }

    /** {@code dma_pool_create} on the default pool; see {@link MemoryPool#dma_pool_create(String,Device,long,long,long)}. */
    public static DmaPool dma_pool_create(String name, Device dev, long size, long align, long boundary) {
        return defaultPool().dma_pool_create(name, dev, size, align, boundary);
    }

    /** {@code dma_pool_alloc} on the default pool; see {@link MemoryPool#dma_pool_alloc(DmaPool,int,long[])}. */
    public static long dma_pool_alloc(DmaPool pool, int gfp, long[] handle) {
        return defaultPool().dma_pool_alloc(pool, gfp, handle);
    }

    /** {@code dma_pool_zalloc} on the default pool; see {@link MemoryPool#dma_pool_zalloc(DmaPool,int,long[])}. */
    public static long dma_pool_zalloc(DmaPool pool, int gfp, long[] handle) {
        return defaultPool().dma_pool_zalloc(pool, gfp, handle);
    }

    /** {@code dma_pool_free} on the default pool; see {@link MemoryPool#dma_pool_free(DmaPool,long,long)}. */
    public static void dma_pool_free(DmaPool pool, long vaddr, long dmaAddr) {
        defaultPool().dma_pool_free(pool, vaddr, dmaAddr);
    }

    /** {@code dma_pool_destroy} on the default pool; see {@link MemoryPool#dma_pool_destroy(DmaPool)}. */
    public static void dma_pool_destroy(DmaPool pool) {
        defaultPool().dma_pool_destroy(pool);
    }

    /** {@code mb}; see {@link MemoryPool#mb()}. */
    public static void mb() {
        MemoryPool.mb();
    }

    /** {@code rmb}; see {@link MemoryPool#rmb()}. */
    public static void rmb() {
        MemoryPool.rmb();
    }

    /** {@code wmb}; see {@link MemoryPool#wmb()}. */
    public static void wmb() {
        MemoryPool.wmb();
    }

    /** {@code dma_rmb}; see {@link MemoryPool#dma_rmb()}. */
    public static void dma_rmb() {
        MemoryPool.dma_rmb();
    }

    /** {@code dma_wmb}; see {@link MemoryPool#dma_wmb()}. */
    public static void dma_wmb() {
        MemoryPool.dma_wmb();
    }
}
