package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluicelab/sluice/enrich/geo"
	"github.com/sluicelab/sluice/geoip"
	"github.com/sluicelab/sluice/internal/config"
	"github.com/sluicelab/sluice/internal/event"
	"github.com/sluicelab/sluice/internal/obs"
)

// geoipCommand is `sluice geoip lookup IP...`: what the geo stage would add
// for each address, as one JSON object a line.
func geoipCommand(stderrW io.Writer) *cobra.Command {
	g := &cobra.Command{Use: "geoip", Short: "GeoIP tools"}
	var cfgPath string
	lookup := &cobra.Command{
		Use:   "lookup IP...",
		Short: "Print what the pipeline would add for each address (geo, as, locality), one JSON line each",
		Long: "Opens the databases of geoip.* (from --config, SLUICE_GEOIP_* or --geoip.* flags) and prints, per address,\n" +
			"its class (public addresses only are looked up), the lookup result, locality (enrich.home_networks)\n" +
			"and the geo/as fields. Exits 1 when an argument is not an address or a configured database did not load.",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return fmt.Errorf("geoip lookup: missing IP\nusage: %s", cmd.UseLine())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := config.Load(cfgPath, cmd.Flags())
			if err != nil {
				return err
			}
			cc, err := buildComponentConfigs(cfg)
			if err != nil {
				return err
			}
			if err := cc.geoip.Validate(); err != nil {
				return err
			}
			logger, err := obs.NewLogger(stderrW, "warn", cfg.Log.Format)
			if err != nil {
				return err
			}
			var db *geoip.DB
			if cc.geoip.Enabled() {
				if db, err = geoip.New(cc.geoip, logger, nil); err != nil {
					return err
				}
			} else {
				fmt.Fprintln(stderrW, "no database configured (geoip.country_db, geoip.city_db, geoip.asn_db): locality only")
			}
			st, err := geo.New(cc.geo, db, nil, nil)
			if err != nil {
				return err
			}
			var problems []error
			if db != nil {
				for _, s := range db.Status() {
					if !s.Loaded {
						problems = append(problems, fmt.Errorf("%s: %s not loaded", s.Key, s.Path))
						continue
					}
					fmt.Fprintf(stderrW, "%s: %s (%s, built %s)\n", s.Key, s.Path, s.Type, s.BuildTime.UTC().Format(time.DateOnly))
				}
			}
			out := cmd.OutOrStdout()
			for _, a := range args {
				ip, err := netip.ParseAddr(strings.TrimSpace(a))
				if err != nil {
					problems = append(problems, fmt.Errorf("%q is not an IP address", a))
					continue
				}
				line, _ := json.Marshal(describe(ip, db, st))
				fmt.Fprintf(out, "%s\n", line)
			}
			return errors.Join(problems...)
		},
	}
	lookup.Flags().StringVarP(&cfgPath, "config", "c", "", "YAML config file (optional; see configs/sluice.yaml)")
	config.AddFlagsFor(lookup.Flags(), "geoip.country_db", "geoip.city_db", "geoip.asn_db", "enrich.home_networks")
	g.AddCommand(lookup)
	return g
}

// lookupLine is one line of `sluice geoip lookup`, with ECS names.
type lookupLine struct {
	IP       string     `json:"ip"`
	Class    string     `json:"class"`
	Result   string     `json:"result"`
	Locality string     `json:"locality,omitempty"`
	Geo      *geoFields `json:"geo,omitempty"`
	AS       *asFields  `json:"as,omitempty"`
	Tags     []string   `json:"tags,omitempty"`
}

type geoFields struct {
	CityName       string       `json:"city_name,omitempty"`
	ContinentCode  string       `json:"continent_code,omitempty"`
	CountryISOCode string       `json:"country_iso_code,omitempty"`
	CountryName    string       `json:"country_name,omitempty"`
	Location       *geoLocation `json:"location,omitempty"`
	RegionISOCode  string       `json:"region_iso_code,omitempty"`
	RegionName     string       `json:"region_name,omitempty"`
}

type geoLocation struct {
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
}

type asFields struct {
	Number       uint32 `json:"number,omitempty"`
	Organization *struct {
		Name string `json:"name"`
	} `json:"organization,omitempty"`
}

func describe(ip netip.Addr, db *geoip.DB, st *geo.Stage) lookupLine {
	// The same path as the pipeline: the stage on an event whose source
	// is ip.
	e := &event.Event{Kind: event.KindFlow}
	e.Src.IP = ip
	var c geoip.Counts
	st.Enrich(e, &c)
	l := lookupLine{IP: ip.String(), Class: geoip.Classify(ip).String(), Locality: e.Src.Locality.String(), Result: geoip.ResultNoDatabase.String()}
	if db != nil {
		_, r := db.Lookup(ip)
		l.Result = r.String()
	}
	if e.Tags.Has(event.TagGeoMiss) {
		l.Tags = append(l.Tags, "_geoip_lookup_failure")
	}
	g := e.Src.Geo
	if g == nil {
		return l
	}
	gf := &geoFields{CityName: g.CityName, ContinentCode: g.ContinentCode, CountryISOCode: g.CountryISO, CountryName: g.CountryName,
		RegionISOCode: g.RegionISO, RegionName: g.RegionName}
	if g.HasLocation {
		gf.Location = &geoLocation{Lat: g.Lat, Lon: g.Lon}
	}
	if *gf != (geoFields{}) {
		l.Geo = gf
	}
	if g.ASN != 0 || g.ASOrg != "" {
		l.AS = &asFields{Number: g.ASN}
		if g.ASOrg != "" {
			l.AS.Organization = &struct {
				Name string `json:"name"`
			}{g.ASOrg}
		}
	}
	return l
}
