-- wrk script: every request creates a new SCIM user (a durable write).
local next_thread = 0
function setup(thread)
  thread:set("tid", next_thread)
  next_thread = next_thread + 1
end

function init(args)
  token = args[1]
  counter = 0
  created = 0
  failed = 0
end

function request()
  counter = counter + 1
  local body = '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"t' .. tid .. '-' ..
               counter .. '@bench.example","active":true}'
  return wrk.format("POST", "/scim/v2/corp/Users",
                    {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/scim+json"}, body)
end

function response(status, headers, body)
  if status == 201 then created = created + 1 else failed = failed + 1 end
end
