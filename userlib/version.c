// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/* The library's version at run time, checked against the Makefile's. */
#include "internal.h"

#if defined(EVBUS_MK_MAJOR) && \
	(EVBUS_MK_MAJOR != EVBUS_LIB_VERSION_MAJOR || \
	 EVBUS_MK_MINOR != EVBUS_LIB_VERSION_MINOR || \
	 EVBUS_MK_PATCH != EVBUS_LIB_VERSION_PATCH)
#error "LIB_VERSION in the Makefile and EVBUS_LIB_VERSION in evbus.h differ"
#endif

EVBUS_API const char *evbus_lib_version(void)
{
	return EVBUS_LIB_VERSION;
}

EVBUS_API int evbus_lib_version_major(void)
{
	return EVBUS_LIB_VERSION_MAJOR;
}

EVBUS_API int evbus_lib_version_minor(void)
{
	return EVBUS_LIB_VERSION_MINOR;
}
