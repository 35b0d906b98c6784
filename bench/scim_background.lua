-- wrk script: steady background SCIM traffic for the push-latency benchmark.
-- Every request creates a new user (a durable write, as an IdP's initial
-- cycle sends them); each connection waits `delay_ms` after an answer before
-- its next request, so the rate is about connections × 1000 / (delay_ms +
-- latency). Arguments: token, delay in ms.
local next_thread = 0
function setup(thread)
  thread:set("tid", next_thread)
  next_thread = next_thread + 1
end

function init(args)
  token = args[1]
  pause = tonumber(args[2])
  counter = 0
end

function delay()
  return pause
end

function request()
  counter = counter + 1
  local body = '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bg' .. tid .. '-' ..
               counter .. '@load.example","active":true}'
  return wrk.format("POST", "/scim/v2/corp/Users",
                    {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/scim+json"}, body)
end
