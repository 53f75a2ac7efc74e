// Command cairn-image builds Cairn's OCI image from a static Linux build of
// cairn, without docker or a registry (make image runs it):
//
//	cairn-image --binary bin/cairn-linux-amd64 --out bin/cairn-image.tar \
//	  --tag cairn:0.4.0 --revision $(git rev-parse HEAD) --created $(git log -1 --format=%ct) [--push REF]
//
// The archive loads with docker load, podman load, ctr images import and
// kind load image-archive; --push also uploads the image to a registry.
// The same inputs give the same bytes.
package main
