// The programs of the real node's local images (scripts/kube/images.sh): no dependencies.
module k6ha.local/kube-images

go 1.26.0
