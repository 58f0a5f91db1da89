// SPDX-License-Identifier: GPL-2.0
/*
 * evbus ring memory and mmap(): a ring is a control page, a header page and
 * its data pages, vmap()ed once with the data pages twice in a row, as the
 * BPF ring buffer does:
 *
 *   area: [ctl][hdr][data 0 .. n-1][data 0 .. n-1]
 *
 * so a record that runs past the end of the data continues, contiguous,
 * into the second copy, for the kernel and for a reader that maps the same
 * layout (remap_vmalloc_range() of the area).  Records never need a filler.
 *
 * Pages are zeroed and charged to the memory cgroup of whoever makes the
 * ring (subscribe, SET_RING); the ring's bytes count against the user's
 * max_user_ring_bytes as before (ring.c).
 *
 * Userspace may map the control page read-write (and only as an exact
 * one-page mapping), everything else read-only, nothing executable.  The
 * kernel reads the control page's consumer_pos as an untrusted hint
 * (ring.c, evbus_ring_sync()).  r->mapped counts live vmas: while it is
 * nonzero the ring's memory and policy stay as they are (the memory is
 * otherwise freed only with the file, and a vma keeps its file open).
 */
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include "evbus.h"
#include "compat.h"

#define EVBUS_MEM_META_PAGES	2	/* ctl, hdr */

struct evbus_ring_mem {
	void *area;			/* ctl, hdr, data twice */
	unsigned int nr_pages;		/* meta + data pages allocated */
	struct page *pages[];
};

void *evbus_mem_data(struct evbus_ring_mem *mem)
{
	return mem->area + EVBUS_MEM_META_PAGES * PAGE_SIZE;
}

struct evbus_mmap_ctl *evbus_mem_ctl(struct evbus_ring_mem *mem)
{
	return mem->area;
}

struct evbus_mmap_hdr *evbus_mem_hdr(struct evbus_ring_mem *mem)
{
	return mem->area + PAGE_SIZE;
}

void evbus_ring_mem_free(struct evbus_ring_mem *mem)
{
	unsigned int i;

	if (!mem)
		return;
	if (mem->area)
		vunmap(mem->area);
	for (i = 0; i < mem->nr_pages; i++)
		__free_page(mem->pages[i]);
	kvfree(mem);
}

/* size: a power of two, at least a page.  NULL if memory is short. */
struct evbus_ring_mem *evbus_ring_mem_alloc(u32 size)
{
	unsigned int nr_data = size >> PAGE_SHIFT;
	unsigned int nr = EVBUS_MEM_META_PAGES + nr_data, i;
	struct evbus_ring_mem *mem;
	struct page **map;

	mem = kvzalloc(struct_size(mem, pages, nr), EVBUS_GFP);
	if (!mem)
		return NULL;
	for (; mem->nr_pages < nr; mem->nr_pages++) {
		mem->pages[mem->nr_pages] = alloc_page(EVBUS_GFP | __GFP_ZERO);
		if (!mem->pages[mem->nr_pages])
			goto err;
	}
	map = kvmalloc_array(nr + nr_data, sizeof(*map), GFP_KERNEL);
	if (!map)
		goto err;
	for (i = 0; i < nr; i++)
		map[i] = mem->pages[i];
	for (i = 0; i < nr_data; i++)
		map[nr + i] = mem->pages[EVBUS_MEM_META_PAGES + i];
	mem->area = vmap(map, nr + nr_data, VM_MAP | VM_USERMAP, PAGE_KERNEL);
	kvfree(map);
	if (!mem->area)
		goto err;
	evbus_mem_hdr(mem)->size = size;
	return mem;

err:
	evbus_ring_mem_free(mem);
	return NULL;
}

/* ---------------------------------------------------------------- mmap */

static void evbus_vm_open(struct vm_area_struct *vma)
{
	struct evbus_file *ef = vma->vm_file->private_data;

	spin_lock(&ef->ring.lock);
	ef->ring.mapped++;
	spin_unlock(&ef->ring.lock);
}

static void evbus_vm_close(struct vm_area_struct *vma)
{
	struct evbus_file *ef = vma->vm_file->private_data;

	spin_lock(&ef->ring.lock);
	WARN_ON_ONCE(!ef->ring.mapped);
	ef->ring.mapped--;
	spin_unlock(&ef->ring.lock);
}

static const struct vm_operations_struct evbus_vm_ops = {
	.open = evbus_vm_open,
	.close = evbus_vm_close,
};

/* Which protections may this vma have?  0 or -errno. */
static int evbus_mmap_check(struct vm_area_struct *vma)
{
	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	if (vma->vm_flags & VM_EXEC)
		return -EPERM;
	if (vma->vm_flags & VM_WRITE) {
		/* Only the control page, on its own, may be written. */
		if (vma->vm_pgoff != EVBUS_MMAP_CTL_PGOFF ||
		    vma->vm_end - vma->vm_start != PAGE_SIZE)
			return -EPERM;
		vm_flags_clear(vma, VM_MAYEXEC);
	} else {
		vm_flags_clear(vma, VM_MAYWRITE | VM_MAYEXEC);
	}
	return 0;
}

int evbus_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct evbus_file *ef = file->private_data;
	struct evbus_ring *r = &ef->ring;
	void *area;
	int ret;

	ret = evbus_mmap_check(vma);
	if (ret)
		return ret;
	/*
	 * mmap_lock is held: ring setup's mutex nests outside it (ioctls copy
	 * from userspace under it), so the ring must exist already.  Counting
	 * the mapping first pins its memory: resizing waits for mapped == 0.
	 */
	spin_lock(&r->lock);
	if (!r->mem || r->closed) {
		spin_unlock(&r->lock);
		return -ENODATA;
	}
	area = r->mem->area;
	r->mapped++;
	spin_unlock(&r->lock);

	/* Checks the range against the area: EINVAL past the ring. */
	ret = remap_vmalloc_range(vma, area, vma->vm_pgoff);
	if (ret) {
		spin_lock(&r->lock);
		r->mapped--;
		spin_unlock(&r->lock);
		return ret;
	}
	/* From here on, every copy of the vma (fork, split) is counted. */
	vma->vm_ops = &evbus_vm_ops;
	return 0;
}
