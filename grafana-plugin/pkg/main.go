// Command gpx_sightline is the backend of Sightline's Grafana datasource
// plugin. Grafana starts it as a child process and speaks the plugin protocol
// (hashicorp go-plugin, gRPC pluginv2 services) to it; run by hand it only
// prints the handshake and waits.
package main

import (
	"os"

	"github.com/grafana/grafana-plugin-sdk-go/backend/datasource"
	"github.com/grafana/grafana-plugin-sdk-go/backend/log"

	"github.com/sightline-dev/sightline/grafana-plugin/pkg/plugin"
)

func main() {
	if err := datasource.Manage(plugin.ID, plugin.NewDatasource, datasource.ManageOpts{}); err != nil {
		log.DefaultLogger.Error("plugin stopped", "error", err)
		os.Exit(1)
	}
}
