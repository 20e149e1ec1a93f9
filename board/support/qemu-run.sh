#!/bin/sh
# What the bare-metal boards' cargo runners share: boots IMAGE in QEMU with
# the QGA channel on a unix socket, wired as libvirt and Proxmox wire it.
#   qemu-run.sh IMAGE NAME CHANNEL UART ATTACH BUS QEMU [ARG...]
#   CHANNEL: UART (the serial port: ATTACH wires chardev qga0 to it)
#            or virtio (libvirt's virtio-serial port org.qemu.guest_agent.0
#            on the virtio-serial device BUS)
# The socket is ${TMPDIR:-/tmp}/nanoqga-NAME-CHANNEL.sock, or NANOQGA_SOCKET;
# its path is printed first.
set -eu
image=$1 name=$2 channel=$3 uart=$4 attach=$5 bus=$6
shift 6
sock=${NANOQGA_SOCKET:-${TMPDIR:-/tmp}/nanoqga-$name-$channel.sock}
rm -f "$sock"
if [ "$channel" = "$uart" ]; then
    devices="-chardev socket,id=qga0,path=$sock,server=on,wait=off $attach"
elif [ "$channel" = virtio ]; then
    devices="-device $bus,id=virtio-serial0 -chardev socket,id=charchannel0,path=$sock,server=on,wait=off -device virtserialport,bus=virtio-serial0.0,nr=1,chardev=charchannel0,id=channel0,name=org.qemu.guest_agent.0"
else
    echo "unknown channel '$channel' ($uart or virtio)" >&2
    exit 2
fi
echo "QGA channel: $sock"
# shellcheck disable=SC2086
exec "$@" -m 128M -nodefaults -display none -no-user-config \
    -kernel "$image" $devices
