#include "daemon/app/metrics.h"

#include <cmath>
#include <cstdio>
#include <sstream>

namespace keywarden {

namespace {

std::string format_number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

std::string render_labels(const Labels& labels, const std::string& extra_name = "", const std::string& extra = "") {
  if (labels.empty() && extra_name.empty()) return "";
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out += ",";
    out += k + "=\"" + escape_label_value(v) + "\"";
    first = false;
  }
  if (!extra_name.empty()) {
    if (!first) out += ",";
    out += extra_name + "=\"" + extra + "\"";
  }
  return out + "}";
}

}  // namespace

std::string escape_label_value(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

Metrics::Metrics() {
  const std::vector<double> latency{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  describe("keywarden_actions_total", "counter", "Palette key actions by kind and result.");
  describe("keywarden_source_up", "gauge", "1 when the source's last read was good.");
  describe("keywarden_source_info", "gauge", "1 for each configured source, labelled with its type.");
  describe("keywarden_source_last_success_timestamp_seconds", "gauge", "Time of the source's last good read.");
  describe("keywarden_quarantined_plans", "gauge", "Plans held back by the safety gate, pending review.");
  describe("keywarden_http_requests_total", "counter", "HTTP requests served, by route and status code.");
  describe("keywarden_push_to_action_seconds", "histogram",
           "Time from a push's arrival to its Palette call completing.", latency);
  describe("keywarden_reconcile_duration_seconds", "histogram", "Duration of reconciles.",
           {0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300});
  describe("keywarden_reconciles_total", "counter", "Reconciles by kind and result.");
  describe("keywarden_pending_actions", "gauge", "Journaled actions not yet carried out.");
  describe("keywarden_push_events_total", "counter", "Pushes received, by source and result.");
  describe("keywarden_store_commits_total", "counter", "Group commits of pushed events.");
  describe("keywarden_store_committed_pushes_total", "counter",
           "Pushed events made durable; divided by keywarden_store_commits_total, the mean group size.");
  describe("keywarden_store_checkpoints_total", "counter",
           "WAL checkpoints, by where they ran: on the checkpointer thread, or on a committing "
           "connection once the WAL passed its hard limit.");
  describe("keywarden_store_checkpoint_failures_total", "counter", "WAL checkpoints that failed (an I/O error).");
  describe("keywarden_store_wal_pages", "gauge", "Pages in the WAL after the last commit.");
}

void Metrics::describe(const std::string& name, const std::string& type, const std::string& help,
                       std::vector<double> buckets) {
  families_[name] = Family{type, help, std::move(buckets)};
}

void Metrics::declare(const std::string& name, const std::string& type, const std::string& help) {
  std::lock_guard lock(mutex_);
  families_.try_emplace(name, Family{type, help, {}});
}

void Metrics::count(const std::string& name, const Labels& labels, double by) {
  std::lock_guard lock(mutex_);
  values_[name][labels] += by;
}

void Metrics::set(const std::string& name, const Labels& labels, double value) {
  std::lock_guard lock(mutex_);
  values_[name][labels] = value;
}

void Metrics::observe(const std::string& name, double value, const Labels& labels) {
  std::lock_guard lock(mutex_);
  const auto family = families_.find(name);
  if (family == families_.end()) return;
  auto& series = histograms_[name][labels];
  if (series.counts.empty()) series.counts.assign(family->second.buckets.size(), 0);
  for (size_t i = 0; i < family->second.buckets.size(); ++i) {
    if (value <= family->second.buckets[i]) series.counts[i] += 1;
  }
  series.sum += value;
  series.count += 1;
}

std::string Metrics::render() const {
  std::lock_guard lock(mutex_);
  std::ostringstream out;
  for (const auto& [name, family] : families_) {
    out << "# HELP " << name << " " << family.help << "\n# TYPE " << name << " " << family.type << "\n";
    if (family.type == "histogram") {
      auto it = histograms_.find(name);
      std::map<Labels, HistogramSeries> none;
      if (it == histograms_.end() || it->second.empty()) none[{}] = HistogramSeries{std::vector<double>(family.buckets.size(), 0), 0, 0};
      for (const auto& [labels, series] : it == histograms_.end() || it->second.empty() ? none : it->second) {
        for (size_t i = 0; i < family.buckets.size(); ++i) {
          out << name << "_bucket" << render_labels(labels, "le", format_number(family.buckets[i])) << " "
              << format_number(series.counts[i]) << "\n";
        }
        out << name << "_bucket" << render_labels(labels, "le", "+Inf") << " " << format_number(series.count) << "\n";
        out << name << "_sum" << render_labels(labels) << " " << format_number(series.sum) << "\n";
        out << name << "_count" << render_labels(labels) << " " << format_number(series.count) << "\n";
      }
      continue;
    }
    const auto it = values_.find(name);
    if (it == values_.end()) {
      if (family.type == "gauge" && name == "keywarden_quarantined_plans") out << name << " 0\n";
      continue;
    }
    for (const auto& [labels, value] : it->second) out << name << render_labels(labels) << " " << format_number(value) << "\n";
  }
  return out.str();
}

}  // namespace keywarden
