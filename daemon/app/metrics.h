// Prometheus metrics (text exposition format 0.0.4) for /metrics. Only
// counts, states and durations go in here: never a secret, never a key uid.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace keywarden {

using Labels = std::map<std::string, std::string>;

class Metrics {
 public:
  Metrics();

  void count(const std::string& name, const Labels& labels, double by = 1);
  void set(const std::string& name, const Labels& labels, double value);
  // Adds an observation to a histogram declared with describe_histogram.
  void observe(const std::string& name, double value, const Labels& labels = {});

  // Declares a family met at run time (a source's own metrics); a family
  // declared already keeps its first type and help.
  void declare(const std::string& name, const std::string& type, const std::string& help);

  // The whole exposition, metric families in name order.
  std::string render() const;

 private:
  struct Family {
    std::string type;  // counter | gauge | histogram
    std::string help;
    std::vector<double> buckets;  // histogram upper bounds
  };
  struct HistogramSeries {
    std::vector<double> counts;  // cumulative later; here per bucket
    double sum = 0;
    double count = 0;
  };
  void describe(const std::string& name, const std::string& type, const std::string& help,
                std::vector<double> buckets = {});

  mutable std::mutex mutex_;
  std::map<std::string, Family> families_;
  std::map<std::string, std::map<Labels, double>> values_;
  std::map<std::string, std::map<Labels, HistogramSeries>> histograms_;
};

// Escapes a label value for the exposition format.
std::string escape_label_value(const std::string& value);

}  // namespace keywarden
