-- wrk script: steady background SCIM traffic for the push-latency benchmark.
-- Every request creates a new user (a durable write, as an IdP's initial
-- cycle sends them); each connection waits `delay_ms` after an answer before
-- its next request, so the rate is about connections × 1000 / (delay_ms +
-- latency). Arguments: token, delay in ms, a prefix for the user names
-- (one per run, so that no two runs create the same userName).
local threads = {}
function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  token = args[1]
  pause = tonumber(args[2])
  prefix = args[3]
  counter = 0
  refused = {}
end

function delay()
  return pause
end

function request()
  counter = counter + 1
  local body = '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"' .. prefix .. tid .. '-' ..
               counter .. '@load.example","active":true}'
  return wrk.format("POST", "/scim/v2/corp/Users",
                    {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/scim+json"}, body)
end

function response(status, headers, body)
  if status ~= 201 then refused[status] = (refused[status] or 0) + 1 end
end

function done(summary, latency, requests)
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("refused")) do io.write("status ", status, ": ", n, "\n") end
  end
end
