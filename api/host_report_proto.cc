// Host probe findings -> zerocell.v1.HostReport; see host_report_proto.h.
#include "api/host_report_proto.h"

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace zerocell::api {

v1::HostReport HostReportToProto(const sandbox::host::HostCapabilities& caps) {
  v1::HostReport out;
  for (const sandbox::host::Finding& f : sandbox::host::Describe(caps)) {
    v1::HostCapability* c = out.add_capabilities();
    c->set_name(f.name);
    c->set_ok(f.ok);
    c->set_value(f.value);
    c->set_meaning(f.meaning);
  }
  out.set_probe_ns(absl::ToInt64Nanoseconds(caps.probe_time));
  return out;
}

}  // namespace zerocell::api
