# Debian packages and DKMS (issue #19); included by the top-level Makefile.
#
#   make deb              evbus-dkms, libevbus1, libevbus-dev, evbus-tools in
#                         build/deb/, built from a copy of the tracked files
#   make dkms-install     the module's source in /usr/src/evbus-$(PKG_VERSION),
#                         dkms add, build and install for the running kernel
#                         (or DKMS_KVER=...); again is harmless
#   make dkms-uninstall   dkms remove --all and the /usr/src copy
#   make check-packaging  (root) build, lintian, dkms build for the VM's 6.1
#                         and 6.12 kernels, install the packages on this host,
#                         the demo with /usr/bin/evbus in the VM, then purge
#
# The package version is the one in debian/changelog (upstream part), the
# version of the whole project; it starts equal to LIB_VERSION but moves on
# its own: the library's version follows its ABI (userlib/libevbus.map).

PKG_VERSION := $(shell sed -n '1s/^evbus (\([^)-]*\).*/\1/p' $(REPO)/debian/changelog)
DEB_DIR := $(B)/deb
DKMS_SRC := /usr/src/evbus-$(PKG_VERSION)
DKMS_KVER ?= $(shell uname -r)

.PHONY: deb dkms-install dkms-uninstall dkms-source check-packaging

# dpkg-buildpackage writes the .debs next to the source: build/deb/.
deb:
	@rm -rf $(DEB_DIR); mkdir -p $(DEB_DIR)/evbus-$(PKG_VERSION)
	cd $(REPO) && git ls-files -z | grep -zv '^build/' | \
		tar --null -T - -cf - | tar -xf - -C $(DEB_DIR)/evbus-$(PKG_VERSION)
	cd $(DEB_DIR)/evbus-$(PKG_VERSION) && dpkg-buildpackage -us -uc -b
	@ls $(DEB_DIR)/*.deb

# The same tree dh-dkms ships: Kbuild, module/, uapi/ and dkms.conf.
dkms-source:
	rm -rf $(DESTDIR)$(DKMS_SRC)
	install -d $(DESTDIR)$(DKMS_SRC)/module $(DESTDIR)$(DKMS_SRC)/uapi/linux
	install -m 0644 $(REPO)/Kbuild $(DESTDIR)$(DKMS_SRC)/
	install -m 0644 $(REPO)/module/*.[ch] $(DESTDIR)$(DKMS_SRC)/module/
	install -m 0644 $(REPO)/uapi/linux/evbus.h $(DESTDIR)$(DKMS_SRC)/uapi/linux/
	sed 's/#MODULE_VERSION#/$(PKG_VERSION)/' $(REPO)/packaging/dkms.conf \
		>$(DESTDIR)$(DKMS_SRC)/dkms.conf

dkms-install:
	@if dkms status -m evbus -v $(PKG_VERSION) | grep -q .; then \
		echo "dkms-install: replacing evbus/$(PKG_VERSION)"; \
		dkms remove -m evbus -v $(PKG_VERSION) --all; fi
	@$(MAKE) --no-print-directory dkms-source DESTDIR=
	dkms add -m evbus -v $(PKG_VERSION)
	dkms build -m evbus -v $(PKG_VERSION) -k $(DKMS_KVER)
	dkms install -m evbus -v $(PKG_VERSION) -k $(DKMS_KVER)

dkms-uninstall:
	@if dkms status -m evbus -v $(PKG_VERSION) | grep -q .; then \
		dkms remove -m evbus -v $(PKG_VERSION) --all; \
	else echo "dkms-uninstall: evbus/$(PKG_VERSION) is not in DKMS"; fi
	rm -rf $(DKMS_SRC)

check-packaging: deps
	@$(DEPS) --kernel 6.12 >/dev/null
	$(MAKE) --no-print-directory deb
	packaging/check-packaging.sh $(PKG_VERSION) $(DEB_DIR)
