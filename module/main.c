// SPDX-License-Identifier: GPL-2.0
#include <linux/module.h>
#include <linux/miscdevice.h>
#include <linux/fs.h>
#include <linux/uaccess.h>
#include <linux/evbus.h>

static long evbus_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct evbus_version v;

	switch (cmd) {
	case EVBUS_IOC_VERSION:
		if (copy_from_user(&v, (void __user *)arg, sizeof(v)))
			return -EFAULT;
		v.abi_version = EVBUS_ABI_VERSION;
		if (copy_to_user((void __user *)arg, &v, sizeof(v)))
			return -EFAULT;
		return 0;
	}
	return -ENOIOCTLCMD;
}

static const struct file_operations evbus_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = evbus_ioctl,
};

static struct miscdevice evbus_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "evbus",
	.fops = &evbus_fops,
	.mode = 0660,
};
module_misc_device(evbus_misc);
MODULE_LICENSE("GPL");
