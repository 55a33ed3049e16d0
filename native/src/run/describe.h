// How a run describes what it did: names of config enums, shapes and histograms as JSON,
// a tensor's config as the events and the output's metadata carry it.
#pragma once
#include <string>
#include <vector>

#include "io/json.h"
#include "metrics/metrics.h"
#include "run/job.h"

namespace bitsmith {

const char* groupKindName(GroupKind k);
json::Value shapeValue(const std::vector<int64_t>& shape);
std::string shapeText(const std::vector<int64_t>& shape);
json::Value histValue(const Histogram& h);
/** The tensor event's "config" (and the output metadata's per-tensor entry). */
json::Value configValue(const JobTensor& t);

}  // namespace bitsmith
