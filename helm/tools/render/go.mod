// helm/check.sh builds this in GOPATH mode against Debian's packaged libraries (see the
// script); the versions below are the ones Debian 12 ships, for a module-mode build elsewhere.
module hybridge-render

go 1.19

require (
	github.com/Masterminds/semver/v3 v3.2.0
	github.com/Masterminds/sprig/v3 v3.2.3
	github.com/gobwas/glob v0.2.3
	github.com/xeipuuv/gojsonschema v1.2.0
	sigs.k8s.io/yaml v1.3.0
)
